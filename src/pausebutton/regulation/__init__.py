"""Regulation: export-control classification, jurisdictions, and production caps.

Pure rules, no I/O beyond reading the shipped data tables: the registry calls them when
it validates a chip's manufacture or export, and the CLI shows their answers.
"""

from pausebutton.regulation.accelerators import (
    AcceleratorRecord,
    Published,
    accelerator_records,
    load_accelerators,
    record_by_name,
    spec_by_name,
)
from pausebutton.regulation.caps import (
    ProductionTally,
    check_production,
    counted_tpp,
    period_bounds,
    record_production,
)
from pausebutton.regulation.export import (
    BIT_LENGTHS,
    ChipSpec,
    Classification,
    Eccn,
    classify,
    classify_metrics,
    computer_eccn,
    performance_density,
    tpp,
)
from pausebutton.regulation.jurisdictions import (
    LicenceDecision,
    groups_of,
    licence_required,
    load_jurisdictions,
)
from pausebutton.regulation.parameters import (
    DEFAULT_EXPORT_CONTROL,
    ExportControlParameters,
    ProductionCap,
    ProductionCaps,
)

__all__ = [
    "BIT_LENGTHS",
    "DEFAULT_EXPORT_CONTROL",
    "AcceleratorRecord",
    "ChipSpec",
    "Classification",
    "Eccn",
    "ExportControlParameters",
    "LicenceDecision",
    "ProductionCap",
    "ProductionCaps",
    "ProductionTally",
    "Published",
    "accelerator_records",
    "check_production",
    "classify",
    "classify_metrics",
    "computer_eccn",
    "counted_tpp",
    "groups_of",
    "licence_required",
    "load_accelerators",
    "load_jurisdictions",
    "performance_density",
    "period_bounds",
    "record_by_name",
    "record_production",
    "spec_by_name",
    "tpp",
]
