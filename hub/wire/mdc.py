"""The coding tables the FHIR mapping needs beside LOINC: IEEE 11073-10101 (MDC) codes, the
R4 vital-signs profile each LOINC code belongs to, and each Observation's category.

MDC codes are the 32-bit nomenclature codes (partition × 65536 + term) the HL7 Personal Health
Device IG 2.0 puts in `code.coding` beside LOINC. A pulse rate has three MDC codes depending on
what measured it (a cuff, an oximeter, a heart-rate sensor), so the pulse's code follows the
reading's kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hub.model import Code, Kind

MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True, slots=True)
class Mdc:
    code: int
    name: str  # the reference identifier, e.g. MDC_PRESS_BLD_NONINV_SYS


# One MDC term per LOINC code the hub sends; pulse rates are chosen per kind below.
MDC: Mapping[Code, Mdc] = MappingProxyType(
    {
        Code.BP_PANEL: Mdc(150020, "MDC_PRESS_BLD_NONINV"),
        Code.SYSTOLIC: Mdc(150021, "MDC_PRESS_BLD_NONINV_SYS"),
        Code.DIASTOLIC: Mdc(150022, "MDC_PRESS_BLD_NONINV_DIA"),
        Code.MEAN_ARTERIAL: Mdc(150023, "MDC_PRESS_BLD_NONINV_MEAN"),
        Code.HEART_RATE: Mdc(147842, "MDC_ECG_HEART_RATE"),
        Code.SPO2: Mdc(150456, "MDC_PULS_OXIM_SAT_O2"),
        Code.BODY_TEMPERATURE: Mdc(150364, "MDC_TEMP_BODY"),
        Code.BODY_WEIGHT: Mdc(188736, "MDC_MASS_BODY_ACTUAL"),
        Code.GLUCOSE_MASS: Mdc(160184, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"),
        Code.GLUCOSE_MOLES: Mdc(160184, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"),
        Code.RESPIRATORY_RATE: Mdc(151562, "MDC_RESP_RATE"),
        Code.BODY_HEIGHT: Mdc(188740, "MDC_LEN_BODY_ACTUAL"),
        Code.BMI: Mdc(188752, "MDC_RATIO_MASS_BODY_LEN_SQ"),
        Code.CUFF_PRESSURE: Mdc(150300, "MDC_PRESS_CUFF"),
        Code.PULSE_AMPLITUDE_INDEX: Mdc(150488, "MDC_PULS_OXIM_PERF_REL"),
    }
)
PULSE_BY_KIND: Mapping[Kind, Mdc] = MappingProxyType(
    {
        Kind.BLOOD_PRESSURE: Mdc(149546, "MDC_PULS_RATE_NON_INV"),
        Kind.SPO2_SPOT: Mdc(149530, "MDC_PULS_OXIM_PULS_RATE"),
        Kind.SPO2_CONTINUOUS: Mdc(149530, "MDC_PULS_OXIM_PULS_RATE"),
    }
)
ABSOLUTE_TIME = Mdc(67975, "MDC_ATTR_TIME_ABS")
PHD_TYPE = Mdc(65573, "MDC_MOC_VMS_MDS_SIMP")
PHG_TYPE = Mdc(531981, "MDC_MOC_VMS_MDS_AHD")
VERSION_TYPES = (
    ("hardware", Mdc(531974, "MDC_ID_PROD_SPEC_HW")),
    ("software", Mdc(531975, "MDC_ID_PROD_SPEC_SW")),
    ("firmware", Mdc(531976, "MDC_ID_PROD_SPEC_FW")),
)
# The 11073-104xx specialization a device kind (hub.config DeviceKind) implements. A Bluetooth
# heart-rate sensor follows no 104xx specialization: it is listed as the generic one.
SPECIALIZATIONS: Mapping[str, Mdc] = MappingProxyType(
    {
        "pulse-oximeter": Mdc(528388, "MDC_DEV_SPEC_PROFILE_PULS_OXIM"),
        "blood-pressure": Mdc(528391, "MDC_DEV_SPEC_PROFILE_BP"),
        "thermometer": Mdc(528392, "MDC_DEV_SPEC_PROFILE_TEMP"),
        "weight-scale": Mdc(528399, "MDC_DEV_SPEC_PROFILE_SCALE"),
        "glucose": Mdc(528401, "MDC_DEV_SPEC_PROFILE_GLUCOSE"),
    }
)
GENERIC_SPECIALIZATION = Mdc(528384, "MDC_DEV_SPEC_PROFILE_HYDRA")  # the generic profile

# The R4 vital-signs profile of each code in the vital-signs result value set (the panel's
# components are checked as part of the `bp` profile). Codes absent here are not vital signs.
VITAL_SIGN_PROFILE: Mapping[Code, str] = MappingProxyType(
    {
        Code.BP_PANEL: "bp",
        Code.HEART_RATE: "heartrate",
        Code.SPO2: "oxygensat",
        Code.BODY_TEMPERATURE: "bodytemp",
        Code.BODY_WEIGHT: "bodyweight",
        Code.BODY_HEIGHT: "bodyheight",
        Code.BMI: "bmi",
        Code.RESPIRATORY_RATE: "resprate",
    }
)
# The R4 `oxygensat` profile requires LOINC 2708-6; 59408-5 (by pulse oximetry) goes beside it.
EXTRA_LOINC: Mapping[Code, tuple[str, str]] = MappingProxyType(
    {Code.SPO2: ("2708-6", "Oxygen saturation in Arterial blood")}
)
# What a vital-signs profile fixes that the hub's canonical units differ from: body height
# is kept in metres and sent in centimetres.
WIRE_UNIT: Mapping[Code, tuple[str, float]] = MappingProxyType({Code.BODY_HEIGHT: ("cm", 100.0)})
# Codes the LOINC code is wrong for: 8357-6 is "Blood pressure method", not a cuff pressure.
MDC_ONLY = frozenset({Code.CUFF_PRESSURE})


def category(code: Code) -> str:
    """The observation-category code for `code`: vital signs for the vital-signs value set,
    laboratory for blood glucose, exam for the oximeter's perfusion index and cuff pressure."""
    if code in VITAL_SIGN_PROFILE or code in (Code.SYSTOLIC, Code.DIASTOLIC, Code.MEAN_ARTERIAL):
        return "vital-signs"
    if code in (Code.GLUCOSE_MASS, Code.GLUCOSE_MOLES):
        return "laboratory"
    return "exam"


def mdc_for(code: Code, kind: Kind) -> Mdc:
    if code is Code.HEART_RATE:
        return PULSE_BY_KIND.get(kind, MDC[code])
    return MDC[code]
