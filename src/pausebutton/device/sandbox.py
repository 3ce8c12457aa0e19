"""A whole regime in one folder, for the training example and end-to-end tests. No mocks.

`open_sandbox(directory)` runs the real key ceremony (`governance.workspace`: 3
governors, 2-of-3 roots, policy and pause roles; two witnesses, both needed), publishes
a policy, serves the TUF repository over local HTTP, provisions one device with a file
secure element, licenses a training run for it through a `LicensingOffice` on the
workspace's log, and builds the device's `Agent` (TUF client, licence desk, receipt
intake with the lab's key). `pause` and `resume` publish directives signed by two
governors; the resume is witnessed (the log's checkpoint cosigned by both witnesses).

Folders: ``authority/`` (the workspace), ``device/`` (secure element, TUF client state,
receipt outbox), ``lab.key`` (the operator who submits receipts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pausebutton.crypto.envelope import Envelope
from pausebutton.crypto.keys import SigningKey, load_signing_key, save_signing_key
from pausebutton.device.agent import Agent, OfficeDesk, Renewal
from pausebutton.device.governance_client import GovernanceClient
from pausebutton.device.governor import Governor
from pausebutton.device.provision import provision
from pausebutton.device.receipt_events import DeviceKeys, receipts_from_log
from pausebutton.device.secure_element import FileSecureElement
from pausebutton.governance.directives import draft_pause, draft_resume
from pausebutton.governance.offline import combine, draft, load_envelope, sign
from pausebutton.governance.policy import Policy
from pausebutton.governance.provisioning import Provisioning
from pausebutton.governance.publisher import Published
from pausebutton.governance.serve import RepositoryServer
from pausebutton.governance.workspace import Workspace, init_workspace
from pausebutton.licensing.licences import PodDevice
from pausebutton.licensing.office import LicensingOffice
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.submission import EventLog

DAY = 86_400
ORIGIN = "sandbox.pausebutton.example/log"
GOVERNORS, THRESHOLD = 3, 2
SERIAL, OWNER, JURISDICTION, CHIP_CLASS = "gpu-0001", "example-lab", "US", "3A090.a"
RUN_ID = "example-run"


@dataclass
class Sandbox:
    """An authority, its log and TUF repository served over HTTP, and one licensed device."""

    directory: Path
    workspace: Workspace
    server: RepositoryServer
    log: TransparencyLog
    office: LicensingOffice
    governor: Governor
    client: GovernanceClient
    desk: OfficeDesk
    intake: EventLog
    lab: SigningKey
    agent: Agent
    clock: Callable[[], float]

    def _keys(self, role: str) -> list[SigningKey]:
        folder = self.workspace.directory / "governors"
        return [
            load_signing_key(folder / f"governor-{i + 1}" / f"{role}.key") for i in range(THRESHOLD)
        ]

    def publish(self, unsigned: Envelope, role: str) -> Published:
        """Have the role's threshold of governors sign `unsigned`, and publish it."""
        envelope = combine([sign(unsigned, k) for k in self._keys(role)])
        with self.workspace.publisher() as publisher:
            return publisher.publish(envelope, int(self.clock()))

    def pause(self, pause_id: str = "pause-1", reason: str = "example pause") -> Published:
        """Publish a global halt, effective now."""
        now = int(self.clock())
        return self.publish(
            draft_pause(pause_id, issued=now, effective_at=now, reason=reason), "pause"
        )

    def resume(self, resume_id: str = "resume-1", lifts: str = "pause-1") -> Published:
        """Publish a witnessed resume of `lifts`, effective now."""
        now = int(self.clock())
        unsigned = draft_resume(
            resume_id, lifts=lifts, issued=now, effective_at=now, reason="example resume"
        )
        return self.publish(unsigned, "pause")

    def receipts(self) -> list[Envelope]:
        """Every receipt in the log (device.receipt events and those licences rest on)."""
        size = self.log.size
        return receipts_from_log(enumerate(self.log.entries(0, size))) if size else []

    def close(self) -> None:
        """Stop the server and close the log."""
        self.server.stop()
        self.log.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def open_sandbox(
    directory: Path,
    *,
    run_flop: int = 10**15,
    device_budget: int = 10**12,
    peak_flops: int = 10**12,
    renewal: Renewal | None = None,
    clock: Callable[[], float] = time.time,
) -> Sandbox:
    """Build the whole regime in the new folder `directory` and license a run for one device."""
    now = int(clock())
    authority = directory / "authority"
    init_workspace(
        authority,
        governors=GOVERNORS,
        threshold=THRESHOLD,
        witnesses=2,
        witness_threshold=2,
        origin=ORIGIN,
        expires=now + 365 * DAY,
        now=now,
    )
    workspace = Workspace(authority)
    server = RepositoryServer(workspace.repo_dir).start()
    lab = SigningKey.generate()
    save_signing_key(lab, directory / "lab.key")
    device_dir = directory / "device"
    governor = provision(
        FileSecureElement.create(device_dir),
        serial=SERIAL,
        root=load_envelope(authority / "root-1.json"),
        owner=OWNER,
        jurisdiction=JURISDICTION,
        chip_class=CHIP_CLASS,
        peak_flops=peak_flops,
        now=now,
    )
    provisioning = Provisioning.load(authority / "provisioning")
    client = GovernanceClient(device_dir / "governance", server.url, provisioning, clock=clock)
    log = TransparencyLog.open(workspace.log_url, workspace.origin)
    office = LicensingOffice(
        log,
        [load_signing_key(authority / "operators" / "licensing.key")],
        lambda: workspace.view().root,
        clock=clock,
    )
    intake = EventLog(
        log,
        anchors=[ActorKey(lab.public, frozenset({"lab"}), name=OWNER)],
        projector=DeviceKeys([governor.device_key]),
        clock=clock,
    )
    desk = OfficeDesk(office, RUN_ID, device_budget, workspace.view)
    agent = Agent(
        governor,
        client,
        desk=desk,
        sink=intake,
        operator=lab,
        renewal=renewal,
        outbox=device_dir / "outbox",
        clock=clock,
    )
    made = Sandbox(
        directory,
        workspace,
        server,
        log,
        office,
        governor,
        client,
        desk,
        intake,
        lab,
        agent,
        clock,
    )
    made.publish(draft(Policy(version=1, expires=now + 90 * DAY)), "policy")
    pod = PodDevice(
        device_key=governor.device_key.key_id,
        serial=SERIAL,
        owner=OWNER,
        jurisdiction=JURISDICTION,
        chip_class=CHIP_CLASS,
    )
    view = workspace.view()
    assert view.policy is not None
    office.issue_run(
        run_id=RUN_ID,
        licensee=lab.key_id,
        flop_budget=run_flop,
        devices=[pod],
        not_before=now,
        not_after=now + 30 * DAY,
        policy=view.policy,
        directives=view.directives,
    )
    return made
