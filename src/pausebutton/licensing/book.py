"""The licence book: every licence issued so far and the receipts they were issued on. Pure.

It is a projection of the log's ``licence.*`` events (`licensing.events.book_from_log`),
so anyone holding the log rebuilds it. The issuer consults it for run ids, sequence
numbers, the last receipt of each device, and what each run has committed:

    committed(run) = sum over the pod's devices of (highest ceiling - first counter base)

that is, every operation any licence of the run lets a device take its licensed counter
through. Device licences of a run never commit more than the run's budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from pausebutton.device.receipts import UsageReceipt
from pausebutton.errors import ValidationError
from pausebutton.licensing.licences import DeviceLicence, RunLicence


@dataclass(frozen=True)
class IssuedDevice:
    """A device licence in the book: its id, the licence, and the receipt it was issued on."""

    licence_id: str
    licence: DeviceLicence
    receipt_id: str
    receipt: UsageReceipt


class LicenceBook:
    """The licences issued so far, by run and by device."""

    def __init__(self) -> None:
        self.runs: dict[str, RunLicence] = {}
        self._devices: dict[str, list[IssuedDevice]] = {}
        self._spans: dict[tuple[str, str], tuple[int, int]] = {}

    def add_run(self, licence: RunLicence) -> None:
        """Record a run licence, refusing a run id already used."""
        if licence.run_id in self.runs:
            raise ValidationError(f"run id {licence.run_id} is already licensed")
        self.runs[licence.run_id] = licence

    def add_device(self, issued: IssuedDevice) -> None:
        """Record a device licence, refusing one out of sequence or for an unknown run."""
        licence = issued.licence
        self.run(licence.run_id)
        if licence.sequence != self.last_sequence(licence.device_key) + 1:
            raise ValidationError(
                f"device licence #{licence.sequence} for {licence.serial} is out of sequence"
            )
        self._devices.setdefault(licence.device_key, []).append(issued)
        self._spans[licence.run_id, licence.device_key] = self._span(licence)

    def run(self, run_id: str) -> RunLicence:
        """Return the run licence `run_id`, raising ValidationError if none was issued."""
        try:
            return self.runs[run_id]
        except KeyError:
            raise ValidationError(f"no run licence {run_id!r} has been issued") from None

    def issued_to(self, device_key: str) -> tuple[IssuedDevice, ...]:
        """The device licences issued to a device, oldest first."""
        return tuple(self._devices.get(device_key, ()))

    def last_sequence(self, device_key: str) -> int:
        """The highest licence sequence issued to a device (0: none)."""
        issued = self._devices.get(device_key)
        return issued[-1].licence.sequence if issued else 0

    def last_receipt(self, device_key: str) -> tuple[str, UsageReceipt] | None:
        """The newest receipt a licence of this device was issued on, with its id."""
        issued = self._devices.get(device_key)
        if not issued:
            return None
        newest = max(issued, key=lambda i: i.receipt.sequence)
        return newest.receipt_id, newest.receipt

    def _span(self, licence: DeviceLicence) -> tuple[int, int]:
        span = self._spans.get((licence.run_id, licence.device_key))
        if span is None:
            return licence.counter_base, licence.ceiling
        return min(span[0], licence.counter_base), max(span[1], licence.ceiling)

    def committed(self, run_id: str, adding: DeviceLicence | None = None) -> int:
        """Operations the run's device licences commit (with `adding` among them, if given)."""
        spans = {k: v for k, v in self._spans.items() if k[0] == run_id}
        if adding is not None and adding.run_id == run_id:
            spans[run_id, adding.device_key] = self._span(adding)
        return sum(ceiling - base for base, ceiling in spans.values())
