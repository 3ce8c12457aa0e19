"""Licensing: device-bound offline licences with FLOP budgets, training-run licences, issuance.

The documents (`licences`), the device's offline check (`verify`), device requests
(`requests`), the issuer's rules (`issuer`), the book of what was issued (`book`), and
their log events (`events`, which registers ``licence.run_issued`` and
``licence.device_issued`` on import).
"""

from pausebutton.licensing.book import IssuedDevice, LicenceBook
from pausebutton.licensing.events import (
    DEVICE_ISSUED,
    LICENSING_ROLE,
    RUN_ISSUED,
    DeviceLicenceIssued,
    book_from_log,
    device_issued_event,
    licensing_policy,
    run_issued_event,
)
from pausebutton.licensing.issuer import (
    Issued,
    check_renewal,
    classify_run,
    issue_device_licence,
    issue_run_licence,
    sign_licence,
)
from pausebutton.licensing.licences import (
    DEVICE_LICENCE_PAYLOAD_TYPE,
    RUN_LICENCE_PAYLOAD_TYPE,
    DeviceLicence,
    PodDevice,
    RunLicence,
    Tier,
    licence_id,
    parse_device_licence,
    parse_run_licence,
    verify_licensing,
    verify_run_licence,
)
from pausebutton.licensing.requests import LicenceRequest, parse_request, verify_request
from pausebutton.licensing.verify import DeviceFacts, verify_device_licence

__all__ = [
    "DEVICE_ISSUED",
    "DEVICE_LICENCE_PAYLOAD_TYPE",
    "LICENSING_ROLE",
    "RUN_ISSUED",
    "RUN_LICENCE_PAYLOAD_TYPE",
    "DeviceFacts",
    "DeviceLicence",
    "DeviceLicenceIssued",
    "Issued",
    "IssuedDevice",
    "LicenceBook",
    "LicenceRequest",
    "PodDevice",
    "RunLicence",
    "Tier",
    "book_from_log",
    "check_renewal",
    "classify_run",
    "device_issued_event",
    "issue_device_licence",
    "issue_run_licence",
    "licence_id",
    "licensing_policy",
    "parse_device_licence",
    "parse_request",
    "parse_run_licence",
    "run_issued_event",
    "sign_licence",
    "verify_device_licence",
    "verify_licensing",
    "verify_request",
    "verify_run_licence",
]
