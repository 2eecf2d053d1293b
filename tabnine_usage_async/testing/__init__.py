"""A faithful fake Tabnine Usage Metrics API, for tests, demos and benchmarks.

The fake serves a deterministic synthetic organization over real HTTP on 127.0.0.1, following
the published API descriptions (v1 and Tabnine 6.2: v2 usage, agent usage, audit logs,
invitations, user and team reads) and the live API's known habits. It shares no code with the
client, so it independently checks the wire format. Everything it serves is available as
ground truth through :class:`Dataset`.

Example::

    from tabnine_usage_async.testing import ScriptedFault, serve_fake_tabnine

    async with serve_fake_tabnine(teams=4, users=40, seed=3) as fake:
        fake.add_scripted_fault(ScriptedFault("503", route="/api/v1/organization/teams"))
        ...  # point the client at fake.base_url with fake.token
        assert fake.stats.requests_by_route["/api/v1/organization/teams"] >= 2

In pytest, the bundled plugin provides a ``fake_tabnine`` fixture configured with
``@pytest.mark.fake_tabnine(users=50, seed=3)``.
"""

from ._routes62 import AUDIT_CSV_COLUMNS
from .dataset import DEFAULT_TODAY, Dataset, Organization, Team, User, UserDayMetrics
from .fake_server import VERSIONS, FakeServerConfig, FakeTabnineApp, Version
from .faults import ALL_FAULT_KINDS, FaultConfig, FaultKind, ScriptedFault
from .process import (
    FakeTabnineProcess,
    add_fake_server_arguments,
    fake_server_main,
    fake_tabnine_process,
    run_fake_server,
)
from .server import FakeTabnine, new_token, serve_fake_tabnine
from .stats import FaultRecord, RequestRecord, ServerStats
from .throttle import Latency, SlowBody
from .usage_v2 import AGENT_MODELS, AGENT_TYPES, CHAT_MODELS, Model

__all__ = [
    "AGENT_MODELS",
    "AGENT_TYPES",
    "ALL_FAULT_KINDS",
    "AUDIT_CSV_COLUMNS",
    "CHAT_MODELS",
    "DEFAULT_TODAY",
    "Dataset",
    "FakeServerConfig",
    "FakeTabnine",
    "FakeTabnineApp",
    "FakeTabnineProcess",
    "FaultConfig",
    "FaultKind",
    "FaultRecord",
    "Latency",
    "Model",
    "Organization",
    "RequestRecord",
    "ScriptedFault",
    "ServerStats",
    "SlowBody",
    "Team",
    "User",
    "UserDayMetrics",
    "VERSIONS",
    "Version",
    "add_fake_server_arguments",
    "fake_server_main",
    "fake_tabnine_process",
    "new_token",
    "run_fake_server",
    "serve_fake_tabnine",
]
