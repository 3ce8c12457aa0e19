"""Benchmark the verifier: receipt signatures, reading, detectors and accountancy, and SQL.

Run: ``.venv/bin/python bench/verify.py [--chips N] [--receipts M] [--scale S] [--workers W]``
(defaults 100,000 chips and 1,000,000 receipts; ``--scale 0.1`` runs a tenth of both).

Synthetic but real: each chip has its own Ed25519 device key, one device licence (64
chips to a run), a custody chain (made in TW, exported, installed at one of 100 US
facilities); each signs a hash-chained receipt every three days, with counters its peak
allows. Receipts are written with a fast signer (``json.dumps`` is RFC 8785 for these
payloads; the first ones are checked against `sign_document`'s bytes) by `--workers`
processes, outside the timing. Then, timed:

1. **raw Ed25519**: verifications per second of one core and of `--workers` cores (the
   limit for signature checking);
2. **signatures**: every receipt checked as the verifier does (`verify_receipt`: parse the
   envelope, canonicalise, verify), in `--workers` processes;
3. **read**: the receipts parsed into a `History` (ids, models, chains);
4. **reconcile**: every detector (signatures already checked) and the accountancy, against
   a plain Python loop over the same receipts (per-device usage) as the baseline;
5. **SQL**: the Parquet export and the reconciliation queries in DuckDB.

Peak memory is the process's maximum resident set after each phase.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pausebutton.crypto import Envelope, VerifyKey
from pausebutton.crypto.envelope import DOMAIN
from pausebutton.device.receipts import (
    RECEIPT_PAYLOAD_TYPE,
    parse_receipt,
    sign_document,
    verify_receipt,
)
from pausebutton.governance import Scope
from pausebutton.governance.directives import PauseDirective
from pausebutton.licensing.licences import DeviceLicence, PodDevice, RunLicence
from pausebutton.verify.accountancy import account
from pausebutton.verify.analytics import Analytics, export_parquet
from pausebutton.verify.detectors import Parameters, run_detectors
from pausebutton.verify.history import Chip, Custody, Grant, History, Logged, Run, add_receipt

NOW = 1_750_000_000
DAY = 86_400
EVERY = 3 * DAY
PEAK = 1979 * 10**12
POD = 64
PREFIX = DOMAIN + RECEIPT_PAYLOAD_TYPE.encode() + b"\n"
console = Console()


def rss_mb() -> float:
    """Peak resident set of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_key(n: int) -> Ed25519PrivateKey:
    """Chip n's device key (fixed)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench-chip/%d" % n).digest())


def key_id(key: Ed25519PrivateKey) -> tuple[str, str]:
    """The key id and base64 public key of a device key."""
    raw = key.public_key().public_bytes_raw()
    return hashlib.sha256(raw).hexdigest(), base64.b64encode(raw).decode()


def licence_of(n: int) -> str:
    """A stand-in licence id for chip n (its licence is built in the History directly)."""
    return hashlib.sha256(b"bench-licence/%d" % n).hexdigest()


def receipts_of(n: int, count: int) -> Iterator[bytes]:
    """Chip n's receipts as canonical envelope bytes, chained and signed."""
    key = device_key(n)
    kid, _ = key_id(key)
    previous, ops = None, 0
    for seq in range(1, count + 1):
        ops += (n * 7919 + seq * 104729) % (PEAK * 60) + 1
        payload = {
            "counters": {"bytes_moved": "0", "flops": str(ops), "int_ops": "0",
                         "licensed_ops": str(ops)},
            "device_key": kid, "licence": licence_of(n), "licence_sequence": 1, "nonce": None,
            "previous": previous, "sequence": seq, "serial": f"chip-{n:07d}",
            "state_version": 3 * seq, "time": NOW + seq * EVERY - n % 3600,
        }  # fmt: skip
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        message = PREFIX + body
        sig = base64.b64encode(key.sign(message)).decode()
        envelope = {
            "payload": payload,
            "payload_type": RECEIPT_PAYLOAD_TYPE,
            "signatures": [{"keyid": kid, "sig": sig}],
        }
        previous = hashlib.sha256(message).hexdigest()
        yield json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def generate(job: tuple[int, int, int, str]) -> int:
    """Write the receipts of chips [low, high) to `path`, one per line."""
    low, high, count, path = job
    with open(path, "wb") as out:
        for n in range(low, high):
            for line in receipts_of(n, count):
                out.write(line + b"\n")
    return high - low


def check_fast_signer() -> None:
    """The fast signer writes exactly the bytes `sign_document` does."""
    line = next(receipts_of(5, 1))
    envelope = Envelope.model_validate_json(line)
    receipt = parse_receipt(envelope)
    again = sign_document(receipt, receipt.device_key, device_key(5).sign)
    assert again.to_bytes() == line, "fast signer differs from sign_document"


def raw_rate(seconds: float = 2.0) -> float:
    """Raw Ed25519 verifications per second on one core."""
    key = device_key(1)
    public = key.public_key()
    message = b"x" * 400
    sig = key.sign(message)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            public.verify(sig, message)
        done += 500
    return done / (time.perf_counter() - start)


def verify_file(job: tuple[str, int, int]) -> int:
    """Check every receipt in a file as the verifier does; return how many passed."""
    path, low, high = job
    keys = {}
    for n in range(low, high):
        kid, pub = key_id(device_key(n))
        keys[kid] = VerifyKey.from_base64(pub)
    good = 0
    with open(path, "rb") as lines:
        for line in lines:
            envelope = Envelope.model_validate_json(line)
            kid = envelope.signatures[0].keyid
            verify_receipt(envelope, keys[kid])
            good += 1
    return good


def build_history(chips: int, files: list[str]) -> History:
    """The facts of the synthetic log, with every receipt parsed as `read_history` does."""
    h = History()
    t0 = NOW - DAY
    facilities = 100
    for n in range(chips):
        serial = f"chip-{n:07d}"
        kid, pub = key_id(device_key(n))
        h.chips[serial] = Chip(serial, kid, pub, "TW", "3A090.a", float(PEAK), 3 * n, t0)
        h.by_key[kid] = serial
        site = f"dc-{n % facilities:03d}"
        h.custody[serial] = [
            Custody(3 * n, t0, serial, "chip.manufactured", "held", "maker", "TW", None, None),
            Custody(3 * n + 1, t0, serial, "chip.exported", "held", "cloud", "US", None, None),
            Custody(
                3 * n + 2, t0, serial, "chip.installed", "installed", "cloud", "US", site, None
            ),
        ]
    runs = (chips + POD - 1) // POD
    leaf = 3 * chips
    for r in range(runs):
        pods = tuple(
            sorted(
                (
                    PodDevice(device_key=h.chips[f"chip-{n:07d}"].device_key,
                              serial=f"chip-{n:07d}", owner=f"lab-{r % 500}", jurisdiction="US",
                              chip_class="3A090.a")
                    for n in range(r * POD, min(chips, (r + 1) * POD))
                ),
                key=lambda d: d.device_key,
            )
        )  # fmt: skip
        run = RunLicence(run_id=f"run-{r}", licensee=f"{r:064x}", flop_budget=10**28, devices=pods,
                         not_before=t0, not_after=t0 + 365 * DAY, policy_version=1,
                         tier="licence", issued=t0)  # fmt: skip
        h.runs[run.run_id] = Run(leaf, t0, hashlib.sha256(run.run_id.encode()).hexdigest(), run)
        leaf += 1
        for d in pods:
            n = int(d.serial.split("-")[1])
            licence = DeviceLicence(device_key=d.device_key, serial=d.serial, run_id=run.run_id,
                                    run_flop=10**28, sequence=1, flop_budget=10**25,
                                    counter_base=0, not_before=t0, not_after=t0 + 365 * DAY,
                                    policy_version=1, min_firmware_version=1, device_nonce=None,
                                    issued=t0)  # fmt: skip
            h.grants[licence_of(n)] = Grant(leaf, t0, licence_of(n), licence, "")
            leaf += 1
    scope = Scope(jurisdictions=("CN",))
    pause = PauseDirective(id="cn-pause", issued=NOW, scope=scope, effect="halt", rate=None,
                           effective_at=NOW, expires=None, reason="bench")  # fmt: skip
    h.directives.append(Logged(leaf, NOW, pause))
    leaf += 1
    for path in files:
        with open(path, "rb") as lines:
            for line in lines:
                add_receipt(h, leaf, Envelope.model_validate_json(line))
                leaf += 1
    h.times = [NOW] * leaf
    return h


def baseline(h: History) -> int:
    """A plain Python loop over the receipts: each device's usage from its counters."""
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for r in h.receipts.values():
        k, ops = r.receipt.device_key, r.receipt.counters.ops
        if ops < low.get(k, ops + 1):
            low[k] = ops
        if ops > high.get(k, -1):
            high[k] = ops
    return sum(high[k] - low[k] for k in high)


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chips", type=int, default=100_000)
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply both counts")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    chips = max(1, int(args.chips * args.scale))
    each = max(1, round(args.receipts * args.scale / chips))
    total = chips * each
    check_fast_signer()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        chunks = [(w * chips // args.workers, (w + 1) * chips // args.workers)
                  for w in range(args.workers)]  # fmt: skip
        files = [str(Path(tmp) / f"receipts-{w}.jsonl") for w in range(args.workers)]
        started = time.perf_counter()
        with (
            mp.Pool(args.workers) as pool,
            Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                     TimeElapsedColumn(), console=console) as progress,
        ):  # fmt: skip
            task = progress.add_task(f"signing {total:,} receipts", total=chips)
            jobs = [
                (lo + i, min(hi, lo + i + 500), each, f"{files[w]}.{i}")
                for w, (lo, hi) in enumerate(chunks)
                for i in range(0, hi - lo, 500)
            ]
            for done in pool.imap_unordered(generate, jobs):
                progress.advance(task, done)
        for w, (lo, hi) in enumerate(chunks):
            with open(files[w], "wb") as out:
                for job in jobs:
                    if lo <= job[0] < hi:
                        out.write(Path(job[3]).read_bytes())
                        Path(job[3]).unlink()
        console.print(f"generated in {time.perf_counter() - started:.1f} s (not timed below)")

        one = raw_rate()
        with mp.Pool(args.workers) as pool:
            t = time.perf_counter()
            many = sum(pool.map(_raw_count, [1.5] * args.workers)) / (time.perf_counter() - t)
        rows.append(("raw Ed25519 verify", "1 core", f"{one:,.0f}/s", ""))
        rows.append(("raw Ed25519 verify", f"{args.workers} cores", f"{many:,.0f}/s", ""))

        t = time.perf_counter()
        with mp.Pool(args.workers) as pool:
            checked = sum(
                pool.map(verify_file, [(files[w], *chunks[w]) for w in range(args.workers)])
            )
        seconds = time.perf_counter() - t
        rate = checked / seconds
        rows.append(("signatures (verify_receipt)", f"{checked:,} receipts", f"{seconds:.1f} s",
                     f"{rate:,.0f}/s = {rate / many:.0%} of raw"))  # fmt: skip

        t = time.perf_counter()
        history = build_history(chips, files)
        history.chains()
        seconds = time.perf_counter() - t
        rows.append(("read into History", f"{total:,} receipts", f"{seconds:.1f} s",
                     f"{total / seconds:,.0f}/s; peak {rss_mb():,.0f} MiB"))  # fmt: skip

        params = Parameters(split_threshold_flop=10**30)
        t = time.perf_counter()
        found = run_detectors(history, params, signatures=False)
        rows_ = account(history, params)
        seconds = time.perf_counter() - t
        t = time.perf_counter()
        baseline(history)
        loop = time.perf_counter() - t
        rows.append(("detectors + accountancy", f"{len(found)} findings, {len(rows_)} rows",
                     f"{seconds:.1f} s", f"{seconds / loop:.0f}x the plain loop ({loop:.2f} s); "
                     f"peak {rss_mb():,.0f} MiB"))  # fmt: skip

        t = time.perf_counter()
        export_parquet(history, Path(tmp) / "parquet")
        written = time.perf_counter() - t
        sql = Analytics(Path(tmp) / "parquet")
        t = time.perf_counter()
        sql.compute(DAY)
        sql.forks()
        sql.rollbacks()
        sql.over_ceiling()
        sql.run_usage()
        queries = time.perf_counter() - t
        sql.close()
        rows.append(("DuckDB over Parquet", f"export {written:.1f} s", f"{queries:.1f} s",
                     f"queries; peak {rss_mb():,.0f} MiB"))  # fmt: skip
    table = Table(title=f"verifier: {chips:,} chips, {total:,} receipts, {args.workers} workers")
    for column in ("phase", "size", "time / rate", "notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if found:
        console.print(f"[red]unexpected findings[/]: {[f.id for f in found[:5]]}")


def _raw_count(seconds: float) -> int:
    key = device_key(2)
    public: Ed25519PublicKey = key.public_key()
    message = b"x" * 400
    sig = key.sign(message)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            public.verify(sig, message)
        done += 500
    return done


if __name__ == "__main__":
    main()
