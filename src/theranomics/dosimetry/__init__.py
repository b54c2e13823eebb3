"""theranomics.dosimetry"""

# TAC fitting, TIA, single-time-point methods, radiobiology, DVH
from .tac import TACError, TimeActivityCurve, VoxelTACStack  # noqa: E402
from .fitting import (MODELS, FitError, FitResult, ModelSelection, TIAResult, VoxelFitResult,  # noqa: E402
                      fit_model, fit_voxels_mono_exp, select_model, trapezoid_tia)
from .stp import haenscheid_tia_mbq_h, madsen_tia_mbq_h, multicycle_stp_tia_mbq_h  # noqa: E402
from .radiobiology import (bed_from_fit_gy, bed_mono_exp_gy, bed_sum_of_exponentials_gy,  # noqa: E402
                           bed_uptake_gy, check_limits, eqd2_gy, multicycle_bed_gy)
from .dvh import DoseVolumeHistogram, dose_volume_histogram  # noqa: E402
from . import kernels, spheres, voxel  # noqa: E402
from .mird import patient_s_values, read_s_value_table  # noqa: E402
from .recovery import sphere_recovery_curve  # noqa: E402
from .workflow import DosimetrySettings, dosimetry_folder, run_cycle_dosimetry, run_study_dosimetry  # noqa: E402
from .inputs import read_dosimetry_inputs  # noqa: E402
