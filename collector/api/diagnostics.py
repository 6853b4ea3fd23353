# No `from __future__ import annotations` here: FastAPI reads the route annotations at runtime.
"""Diagnostics API: run a check on an agent now, and read the audit log of such commands.

    POST /api/v1/agents/{agent_id}/diagnostics   {"check", "params"?, "incident_id"?, "timeout_seconds"?}
    GET  /api/v1/diagnostics[?agent_id=]         the audit log, newest first
    GET  /api/v1/diagnostics/{id}                one entry with its full result

Running a check needs the helpdesk role; so does reading the log (results can name users'
processes). The same routes answer under /api/ too, the form issue 8 names.
The composition root provides the `Diagnostics` service to the app (collector.http.provide).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from collector import answers
from collector.api.auth import Helpdesk
from collector.diagnostics import Answered, AuditEntry, Diagnostics, Refusal, Request
from collector.http import part

AgentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ParamName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
# Ids stay within a signed 64-bit column; anything larger is a 422, not a database overflow.
RowId = Annotated[int, Field(ge=1, le=2**62)]
# A parameter's number travels to the agent as JSON: within 64 bits (and what a check takes
# is the agent's to judge); a float within the same bounds, or pydantic would take a huge
# integer as a float.
ParamInt = Annotated[int, Field(ge=-(2**62), le=2**62)]
ParamFloat = Annotated[float, Field(ge=-(2**62), le=2**62)]
ParamValue = Annotated[str, Field(max_length=2048)] | bool | ParamInt | ParamFloat

# What each refusal means for a client: the agent or incident is not there, or the
# agent cannot be reached right now.
_REFUSAL_STATUS = {
    Refusal.UNKNOWN_AGENT: status.HTTP_404_NOT_FOUND,
    Refusal.NO_INCIDENT: status.HTTP_404_NOT_FOUND,
    Refusal.OFFLINE: status.HTTP_409_CONFLICT,
    Refusal.BROKER_DOWN: status.HTTP_503_SERVICE_UNAVAILABLE,
    Refusal.INVALID: 422,
}


class DiagnosticIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
    params: Annotated[dict[ParamName, ParamValue], Field(max_length=32)] = {}
    incident_id: RowId | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


Service = Annotated[Diagnostics, Depends(part(Diagnostics))]
# Served under /api/v1 with the rest of the API, and under /api (the composition root mounts both).
router = APIRouter(tags=["diagnostics"])


# A plain `def`: FastAPI runs it in its thread pool, where waiting for the agent blocks no one else.
@router.post("/agents/{agent_id}/diagnostics", response_model=answers.Diagnostic)
def run_diagnostic(
    agent_id: AgentId, body: DiagnosticIn, who: Helpdesk, diagnostics: Service
) -> answers.Diagnostic:
    request = Request(agent_id, body.check, body.params, body.incident_id, body.timeout_seconds)
    outcome = diagnostics.run(request, who.name)
    if not isinstance(outcome, Answered):
        raise HTTPException(_REFUSAL_STATUS[outcome.kind], outcome.reason)
    reply = outcome.reply
    if reply is None:
        reason = f"agent {agent_id} did not answer within {body.timeout_seconds:g} s"
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"{reason} (audit #{outcome.audit_id})")
    return answers.Diagnostic(
        audit_id=outcome.audit_id,
        command_id=outcome.command_id,
        agent_id=agent_id,
        check=reply.check or body.check,
        status=reply.status,
        error=reply.error,
        duration_seconds=reply.duration_seconds,
        incident_id=body.incident_id,
        result=reply.result,
    )


@router.get("/diagnostics", response_model=list[AuditEntry])
def audit_log(
    _: Helpdesk,
    diagnostics: Service,
    agent_id: Annotated[str, Query(max_length=64)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AuditEntry]:
    return diagnostics.history(agent_id, limit)


@router.get("/diagnostics/{audit_id}", response_model=AuditEntry)
def audit_entry(
    audit_id: Annotated[int, Path(ge=1, le=2**62)], _: Helpdesk, diagnostics: Service
) -> AuditEntry:
    entry = diagnostics.entry(audit_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no diagnostic {audit_id}")
    return entry
