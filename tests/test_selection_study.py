import jax
import numpy as np

from fcnt_jax.config import get_config
from fcnt_jax.selection.analysis import box_mask
from fcnt_jax.selection_study import energy_inside, format_table, run_study

from tests.test_backbone import tiny_params


def test_study_on_tiny_backbone_reports_every_method():
    cfg = get_config("code", ["selection.num_channels=8", "selection.iterations=3"])
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    box = np.array([60.0, 40.0, 20.0, 30.0])
    res, figure = run_study(tiny_params(jax.random.PRNGKey(0)), frame, box, cfg, jax.random.PRNGKey(1),
                            hutchinson_probes=4, chunk=16, repeats=1)
    for layer in ("conv4_3", "conv5_3"):
        methods = res["layers"][layer]["methods"]
        assert methods["closed_form"]["max_rel_error_vs_closed_form"] == 0.0
        assert methods["hvp_probes"]["max_rel_error_vs_closed_form"] < 1e-4  # float32, exact method
        assert methods["hvp_probes"]["selected_changed_vs_closed_form"] == 0
        assert methods["exact_deletion"]["max_rel_error_vs_closed_form"] is None
        assert 0.0 <= res["layers"][layer]["energy_inside_selected"] <= 1.0
    assert figure.size[0] > 4 * 184 and "hvp_probes" in format_table({"x": res})


def test_box_mask_and_energy_fraction():
    cfg = get_config("code")
    box = jax.numpy.array([100.0, 100.0, 40.0, 40.0])
    roi = jax.numpy.array([100.0 - 80, 100.0 - 80, 200.0])  # 368/200 = 1.84 ROI px per image px
    mask = box_mask(box, roi, cfg)
    # Box spans ROI px 147.2..220.8 -> cells 18.4..27.6: centres 18.5..27.5 -> cells 18..27.
    assert mask.sum() == 100 and mask[18, 18] and mask[27, 27] and not mask[17, 20] and not mask[28, 20]
    f = np.zeros((46, 46, 2))
    f[mask, 0] = 1.0
    f[0, 0, 1] = 1.0
    assert energy_inside(f, mask) == 100 / 101
