"""Provides subagents: who each sidechain is, and what it spent per model (SPEC §4.2).

An agent is an `agentId` (agent files, 2.0.x flat and 2.1.x nested) or an
inline sidechain root (1.0.x, named by the parser). Its type comes, in this
order, from: an `acompact-` id (`compact`), a first prompt of `Warmup`
(`warmup`), the `meta.json` sidecar, the Task/Agent call that spawned it
(`subagent_type`), else `subagent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tiermon.ingest.rows import TOOL_SPAWN
from tiermon.ingest.signals.base import Event, Response, SessionRows, short

SPAWN_TOOLS = TOOL_SPAWN
WARMUP = "Warmup"


@dataclass
class Agent:
    agent_id: str
    first_ts: datetime
    agent_type: str = "subagent"
    description: str | None = None
    parent_tool_use_id: str | None = None
    responses: list[Response] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AgentUsage:
    agent_id: str
    agent_type: str
    model: str
    tier: str
    requests: int
    input: int
    output: int
    read: int
    w5: int
    w1h: int
    cost: float
    priced: bool
    first_ts: datetime
    last_ts: datetime

    @property
    def tokens(self) -> int:
        return self.input + self.output + self.read + self.w5 + self.w1h


def find_agents(rows: SessionRows) -> list[Agent]:
    agents: dict[str, Agent] = {}
    first_prompt: dict[str, str | None] = {}
    for e in rows.events:
        if e.sidechain and e.agent_id:
            _seen(agents, e.agent_id, e.ts)
            if e.kind == "prompt" and e.agent_id not in first_prompt:
                first_prompt[e.agent_id] = e.text
    for r in rows.responses:
        if r.sidechain and r.agent_id:
            _seen(agents, r.agent_id, r.ts).responses.append(r)
    spawns = _spawn_calls(rows.events)
    claimed: set[str] = set()
    for agent in sorted(agents.values(), key=lambda a: a.first_ts):
        meta = rows.meta.get(agent.agent_id)
        call = _spawning_call(agent, spawns, meta.tool_use_id if meta else None, claimed)
        if call is not None:
            claimed.add(call.tool_use_id or "")
            agent.parent_tool_use_id = call.tool_use_id
        prompt = (first_prompt.get(agent.agent_id) or "").strip()
        if agent.agent_id.startswith("acompact"):
            agent.agent_type, agent.description = "compact", "compaction"
        elif prompt == WARMUP:
            agent.agent_type, agent.description = "warmup", WARMUP
        elif meta is not None and meta.agent_type:
            agent.agent_type = meta.agent_type
        elif call is not None and call.subtype:
            agent.agent_type = call.subtype
        if agent.description is None:
            agent.description = (
                (meta.description if meta else None)
                or (call.text if call else None)
                or short(prompt, 80)
                or None
            )
    return sorted(agents.values(), key=lambda a: (a.first_ts, a.agent_id))


def _seen(agents: dict[str, Agent], agent_id: str, ts: datetime) -> Agent:
    agent = agents.get(agent_id)
    if agent is None:
        agent = agents[agent_id] = Agent(agent_id=agent_id, first_ts=ts)
    elif ts < agent.first_ts:
        agent.first_ts = ts
    return agent


@dataclass(frozen=True, slots=True)
class _Spawn:
    call: Event
    result: Event | None


def _spawn_calls(events: list[Event]) -> dict[str, _Spawn]:
    """Task/Agent calls by tool_use_id, with their results (which carry the agent id from 2.0.x on)."""
    results = {e.tool_use_id: e for e in events if e.kind == "tool_result" and e.tool_use_id}
    return {
        e.tool_use_id: _Spawn(e, results.get(e.tool_use_id))
        for e in events
        if e.kind == "tool_use" and e.name in SPAWN_TOOLS and e.tool_use_id
    }


def _spawning_call(
    agent: Agent, spawns: dict[str, _Spawn], meta_tool_use: str | None, claimed: set[str]
) -> Event | None:
    """The Task call behind an agent: by meta.json, by the result's agent id, else by time (1.0.x)."""
    if meta_tool_use and meta_tool_use in spawns:
        return spawns[meta_tool_use].call
    for spawn in spawns.values():
        if spawn.result is not None and spawn.result.ref_agent_id == agent.agent_id:
            return spawn.call
    if agent.agent_id.startswith("acompact"):
        return None
    # Inline sidechains carry no agent id: take the earliest unclaimed call still running when it began.
    for spawn in sorted(spawns.values(), key=lambda s: s.call.ts):
        tid = spawn.call.tool_use_id or ""
        if tid in claimed or (spawn.result is not None and spawn.result.ref_agent_id):
            continue
        if spawn.call.ts <= agent.first_ts and (
            spawn.result is None or agent.first_ts <= spawn.result.ts
        ):
            return spawn.call
    return None


def agent_usage(agents: list[Agent]) -> list[AgentUsage]:
    """One row per agent and model."""
    out = []
    for agent in agents:
        per_model: dict[str, list[Response]] = {}
        for r in agent.responses:
            per_model.setdefault(r.model, []).append(r)
        for model, rs in per_model.items():
            out.append(
                AgentUsage(
                    agent_id=agent.agent_id, agent_type=agent.agent_type, model=model, tier=rs[0].tier,
                    requests=len(rs), input=sum(r.input for r in rs), output=sum(r.output for r in rs),
                    read=sum(r.read for r in rs), w5=sum(r.w5 for r in rs), w1h=sum(r.w1h for r in rs),
                    cost=sum(r.cost or 0.0 for r in rs), priced=all(r.cost is not None for r in rs),
                    first_ts=min(r.ts for r in rs), last_ts=max(r.ts for r in rs),
                )
            )  # fmt: skip
    return out
