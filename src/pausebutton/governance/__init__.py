"""Governance: the root of trust and its roles, the policy, pause and resume directives.

The pure core: documents, their verification, the pause state, and the offline signing
workflow. Publication (TUF) and the CLI are built on top of this API.
"""

from pausebutton.governance._common import FlopCount, SignedDocument
from pausebutton.governance.directives import (
    PAUSE_PAYLOAD_TYPE,
    RESUME_PAYLOAD_TYPE,
    DeviceContext,
    Directive,
    PauseDirective,
    ResumeDirective,
    Scope,
    draft_pause,
    draft_resume,
    parse_directive,
    verify_directive,
)
from pausebutton.governance.jurisdictions import DEFAULT_JURISDICTIONS
from pausebutton.governance.offline import combine, draft, load_envelope, save_envelope, sign
from pausebutton.governance.policy import (
    POLICY_PAYLOAD_TYPE,
    Policy,
    parse_policy,
    required_action,
    verify_policy,
)
from pausebutton.governance.roles import (
    ACTIONS,
    ROLE_NAMES,
    ActionThreshold,
    RoleSpec,
    default_action_thresholds,
)
from pausebutton.governance.root import (
    ROOT_PAYLOAD_TYPE,
    Root,
    make_root,
    parse_root,
    verify_action,
    verify_initial_root,
    verify_role,
    verify_root_chain,
    verify_root_update,
)
from pausebutton.governance.state import (
    Effect,
    Lift,
    PauseState,
    check_new_directive,
    effect_for,
    pause_state,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_JURISDICTIONS",
    "PAUSE_PAYLOAD_TYPE",
    "POLICY_PAYLOAD_TYPE",
    "RESUME_PAYLOAD_TYPE",
    "ROLE_NAMES",
    "ROOT_PAYLOAD_TYPE",
    "ActionThreshold",
    "DeviceContext",
    "Directive",
    "Effect",
    "FlopCount",
    "Lift",
    "PauseDirective",
    "PauseState",
    "Policy",
    "ResumeDirective",
    "RoleSpec",
    "Root",
    "Scope",
    "SignedDocument",
    "check_new_directive",
    "combine",
    "default_action_thresholds",
    "draft",
    "draft_pause",
    "draft_resume",
    "effect_for",
    "load_envelope",
    "make_root",
    "parse_directive",
    "parse_policy",
    "parse_root",
    "pause_state",
    "required_action",
    "save_envelope",
    "sign",
    "verify_action",
    "verify_directive",
    "verify_initial_root",
    "verify_policy",
    "verify_role",
    "verify_root_chain",
    "verify_root_update",
]
