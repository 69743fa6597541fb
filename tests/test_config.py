import dataclasses

import pytest

from fcnt_jax import config as config_module
from fcnt_jax.config import FCNTConfig, get_config


def test_code_preset_is_default_and_hashable():
    cfg = get_config("code")
    assert cfg == FCNTConfig()
    assert hash(cfg) == hash(FCNTConfig())  # static jit argument


def test_paper_preset_changes_exactly_the_documented_values():
    code, paper = get_config("code"), get_config("paper")
    diffs = {}
    for section in ("roi", "selection", "heads", "localization", "updates"):
        a, b = getattr(code, section), getattr(paper, section)
        for f in dataclasses.fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                diffs[f"{section}.{f.name}"] = getattr(b, f.name)
    # spec §10, the paper column.
    assert diffs == {
        "selection.base_lr": 1e-9, "selection.iterations": 50, "selection.hessian_sign": 1.0,
        "heads.conv1_channels": 36, "heads.output_relu": True, "heads.gnet_lr": 1e-7,
        "heads.weight_decay": 0.0025,
        "localization.num_particles": 600, "localization.translation_sigma_px": 10.0,
        "localization.scale_sampling_from_start": True, "localization.score_mode": "sum",
        "updates.adaptation_iterations": 3, "updates.adaptation_include_first_frame": False,
        "updates.discrimination_iterations": 3, "updates.discrimination_trigger": "gnet",
        "updates.discrimination_reference": "first",
    }
    # beta = global decay x 2: 0.001 in code, 0.005 in the paper.
    assert code.heads.weight_decay * code.heads.weight_decay_mult == pytest.approx(0.001)
    assert paper.heads.weight_decay * paper.heads.weight_decay_mult == pytest.approx(0.005)


def test_code_values_match_spec_table():
    cfg = get_config("code")
    assert (cfg.roi.roi_size, cfg.roi.grid, cfg.roi.roi_scale) == (368, 46, 2.0)
    assert (cfg.selection.base_lr, cfg.selection.iterations, cfg.selection.num_channels) == (1e-10, 100, 384)
    assert cfg.selection.weight_decay_g * cfg.selection.weight_decay_mult == pytest.approx(0.2)
    assert (cfg.heads.gnet_lr, cfg.heads.snet_lr, cfg.heads.gnet_momentum, cfg.heads.snet_momentum) == (8e-7, 1e-7, 0.5, 0.6)
    assert cfg.localization.num_particles == 700 and cfg.localization.translation_sigma_px is None


def test_override_and_errors():
    cfg = get_config("code", ["selection.num_channels=128", "heads.output_relu=true",
                              "localization.translation_sigma_px=12"])
    assert cfg.selection.num_channels == 128 and cfg.heads.output_relu is True
    assert cfg.localization.translation_sigma_px == 12.0
    with pytest.raises(ValueError, match="no field 'nope'"):
        get_config("code", ["selection.nope=1"])
    with pytest.raises(ValueError, match="expected section.field=value"):
        get_config("code", ["selection.num_channels"])
    with pytest.raises(ValueError, match="unknown preset"):
        get_config("fast")


def test_ablation_presets_change_only_their_rule():
    code = get_config("code")
    assert get_config("FCNT_G").localization == dataclasses.replace(code.localization, nets="gnet")
    assert get_config("fcnt_s").localization.nets == "snet"
    for k in (512, 256, 128, 64):
        cfg = get_config(f"FCNT_{k}")
        assert cfg.selection == dataclasses.replace(code.selection, num_channels=k)
        assert (cfg.heads, cfg.localization, cfg.updates) == (code.heads, code.localization, code.updates)
        assert cfg.preset == f"fcnt_{k}"
    with pytest.raises(ValueError, match="num_channels=600"):
        get_config("code", ["selection.num_channels=600"])
    with pytest.raises(ValueError, match="nets='all'"):
        get_config("code", ["localization.nets=all"])


@pytest.mark.parametrize("assignment, message", [
    ("localization.num_particles=-5", "localization.num_particles=-5: must be an integer >= 1"),
    ("localization.num_particles=0", "localization.num_particles=0: must be an integer >= 1"),
    ("selection.hessian_method=newton", "choose one of closed_form, hvp_probes, hutchinson, exact_deletion"),
    ("selection.dropout=1", "selection.dropout=1.0: must be a finite number in [0, 1)"),
    ("selection.base_lr=-1e-9", "selection.base_lr=-1e-09: must be a finite number >= 0"),
    ("heads.conv1_kernel=8", "heads.conv1_kernel=8: must be an odd integer"),
    ("heads.snet_momentum=1.5", "heads.snet_momentum=1.5: must be a finite number in [0, 1)"),
    ("roi.roi_size=100", "roi.roi_size=100: must be a multiple of roi.feature_stride (8)"),
    ("roi.feature_stride=4", "roi.feature_stride=4: must be an integer in [8, 8]"),
    ("localization.translation_sigma_px=nan", "must be a finite number > 0 or None"),
    ("localization.score_mode=max", "localization.score_mode='max': choose one of mean_area_gamma, sum"),
    ("updates.adaptation_interval=0", "updates.adaptation_interval=0: must be an integer >= 1"),
    ("updates.discrimination_trigger=both", "choose one of snet, gnet"),
    ("backbone_dtype=float16", "config.backbone_dtype='float16': choose one of float32, bfloat16"),
])
def test_every_bad_value_names_its_field_and_what_is_allowed(assignment, message):
    from fcnt_jax.config import ConfigError

    with pytest.raises(ConfigError) as info:
        get_config("code", [assignment])
    assert message in str(info.value)


def test_validation_covers_the_python_api_and_every_preset():
    from fcnt_jax.config import PRESETS, ConfigError, FCNTConfig, LocalizationConfig

    for name in PRESETS:  # every preset is itself valid
        get_config(name)
    with pytest.raises(ConfigError, match="localization.num_particles=2.5: must be an integer"):
        FCNTConfig(localization=LocalizationConfig(num_particles=2.5))
    with pytest.raises(ConfigError, match="localization.num_particles=True"):
        dataclasses.replace(get_config("code").localization, num_particles=True)
    with pytest.raises(ConfigError, match="config.heads"):
        FCNTConfig(heads=None)
    # Limits are inclusive where the rule says so: these are accepted.
    cfg = get_config("code", ["selection.dropout=0", "localization.translation_sigma_px=none",
                              "selection.num_channels=512", "updates.discrimination_iterations=0"])
    assert cfg.localization.translation_sigma_px is None and cfg.selection.num_channels == 512


def test_optional_integer_fields_parse_as_integers():
    cfg = get_config("code", ["heads.gnet_first_frame_iterations=150"])
    assert cfg.heads.gnet_first_frame_iterations == 150 and isinstance(cfg.heads.gnet_first_frame_iterations, int)
    assert get_config("code", ["heads.gnet_first_frame_iterations=150",
                               "heads.gnet_first_frame_iterations=none"]).heads.gnet_first_frame_iterations is None
    with pytest.raises(ValueError, match="gnet_first_frame_iterations"):
        get_config("code", ["heads.gnet_first_frame_iterations=1.5"])
    assert get_config("code", ["localization.translation_sigma_px=12"]).localization.translation_sigma_px == 12.0


def _changed(a, b) -> set[str]:
    """The ``section.field`` names whose values differ between two configs."""
    sections = [f.name for f in dataclasses.fields(a) if dataclasses.is_dataclass(getattr(a, f.name))]
    return {f"{s}.{f.name}" for s in sections
            for f in dataclasses.fields(getattr(a, s))
            if getattr(getattr(a, s), f.name) != getattr(getattr(b, s), f.name)}


def _fix_fields() -> dict[str, set[str]]:
    from fcnt_jax.config import DROPPED_PLUS_FIXES, PLUS_FIXES

    return {name: {a.split("=")[0] for a in fix} for name, fix in {**PLUS_FIXES, **DROPPED_PLUS_FIXES}.items()}


def test_fcnt_plus_changes_only_its_fixes_and_each_ablation_reverts_one():
    from fcnt_jax.config import DROPPED_PLUS_FIXES, PLUS_ABLATION, PLUS_FIXES, PLUS_VARIANTS

    code, plus = get_config("code"), get_config("fcnt_plus")
    assert code == FCNTConfig()  # the default stays the code preset
    fields = _fix_fields()
    assert set(PLUS_FIXES) == {"gnet_fallback", "latest_sample", "gnet_refit", "scale_filter"}
    assert list(DROPPED_PLUS_FIXES) == ["scale_from_start", "gnet_fit", "aspect"]  # in the order they left
    assert _changed(plus, code) == (fields["gnet_fallback"] | fields["latest_sample"] | fields["gnet_refit"]
                                    | fields["scale_filter"])
    assert plus.preset == "fcnt_plus" and plus.localization.gnet_fallback
    assert plus.updates.stored_sample == "latest_confident" and plus.heads.gnet_underfit_iterations == 100
    assert plus.scale_filter.enabled
    # Dropped: the code's values.
    assert plus.heads.gnet_first_frame_iterations is None and plus.localization.aspect_sigma == 0.0
    assert not plus.localization.scale_sampling_from_start
    # The arms: exactly one fix switched back to code's value.
    assert PLUS_ABLATION == ("fcnt_plus", *(f"fcnt_plus_no_{fix}" for fix in PLUS_FIXES), "code")
    for fix in PLUS_FIXES:
        arm = get_config(f"fcnt_plus_no_{fix}")
        assert _changed(arm, plus) == fields[fix] and arm.preset == f"fcnt_plus_no_{fix}"
    with pytest.raises(ValueError, match="unknown fcnt_plus fix 'aspect'"):
        config_module.plus_name(without="aspect")
    # Every variant: code plus exactly its fixes, under its own name; no two the same config.
    seen = {}
    for name, fixes in PLUS_VARIANTS.items():
        variant = get_config(name)
        assert variant.preset == name and _changed(variant, code) == set().union(*(fields[f] for f in fixes)), name
        key = dataclasses.replace(variant, preset="")
        assert key not in seen, (name, seen.get(key))
        seen[key] = name
    # Each earlier preset is one change from the next: the chain of stages as the fixes came and went.
    chain = ["fcnt_plus_scale_from_start", "fcnt_plus_gnet_fit_aspect_no_latest_sample_no_gnet_refit_no_scale_filter",
             "fcnt_plus_gnet_fit_aspect_no_gnet_refit_no_scale_filter", "fcnt_plus_aspect_no_gnet_refit_no_scale_filter",
             "fcnt_plus_no_gnet_refit_no_scale_filter", "fcnt_plus_no_scale_filter", "fcnt_plus"]
    steps = [fields["scale_from_start"], fields["latest_sample"], fields["gnet_fit"], fields["aspect"],
             fields["gnet_refit"], fields["scale_filter"]]
    for (a, b), step in zip(zip(chain, chain[1:]), steps):
        assert _changed(get_config(a), get_config(b)) == step, (a, b)
    with pytest.raises(ValueError, match="aspect_sigma=-1"):
        get_config("fcnt_plus", ["localization.aspect_sigma=-1"])


def test_fcnt_plus_variant_names_follow_the_rule_and_retired_names_say_where_they_went():
    from fcnt_jax.config import DROPPED_PLUS_FIXES, PLUS_FIXES, PLUS_VARIANTS, PRESETS, RENAMED_PRESETS

    def rule(fixes: tuple[str, ...]) -> str:
        return ("fcnt_plus" + "".join(f"_{f}" for f in DROPPED_PLUS_FIXES if f in fixes)
                + "".join(f"_no_{f}" for f in PLUS_FIXES if f not in fixes))

    for name, fixes in PLUS_VARIANTS.items():
        if "scale_from_start" in fixes:  # the family as first built keeps its published names
            assert name == "fcnt_plus_scale_from_start" + "".join(
                f"_no_{f}" for f in ("gnet_fit", "gnet_fallback", "aspect") if f not in fixes), name
        else:
            assert name == rule(fixes), (name, rule(fixes))
    # Whether a retired name's new preset is its configuration is checked on the real result
    # folders (the next test); here, that each retired name is gone and its error names the new one.
    for old, (new, _) in RENAMED_PRESETS.items():
        assert old not in PRESETS and new in PRESETS, (old, new)
        with pytest.raises(ValueError, match=f"preset '{old}' was renamed: it is now '{new}'"):
            get_config(old)
    with pytest.raises(ValueError, match=r"it is now 'fcnt_plus_aspect_no_gnet_refit_no_scale_filter' \(gnet_fit was"):
        get_config("FCNT_PLUS_NO_GNET_FIT")
    with pytest.raises(ValueError, match=r"it is now 'fcnt_plus_no_scale_filter' \(the candidate joined fcnt_plus,"):
        get_config("fcnt_plus_gnet_refit")
    with pytest.raises(ValueError, match=r"it is now 'fcnt_plus' \(the candidate joined fcnt_plus\)"):
        get_config("fcnt_plus_scale_filter")
    with pytest.raises(ValueError, match=r"it is now 'fcnt_plus_gnet_fit_no_gnet_refit_no_scale_filter' \(gnet_refit"):
        get_config("fcnt_plus_gnet_fit")
    with pytest.raises(ValueError, match=r"it is now 'fcnt_plus_aspect_no_gnet_refit_no_scale_filter' \(scale_filter"):
        get_config("fcnt_plus_aspect_no_gnet_refit")


def test_every_result_folder_holds_the_configuration_of_the_preset_it_is_read_as():
    """Folders are never renamed: ``result_folder`` maps each preset to the folder its runs wrote,
    and each folder's config.json (what ran) must equal that preset's configuration. Real files."""
    import json

    from fcnt_jax.config import LEGACY_RESULT_FOLDERS, PLUS_VARIANTS, PRESETS, presets_by_result_folder, result_folder
    from tests.conftest import REPO_ROOT

    by_folder = presets_by_result_folder()
    assert len(by_folder) == len(PRESETS)  # no two presets share a folder
    assert result_folder("fcnt_plus") == "fcnt_plus_scale_filter"  # it ran as that candidate
    assert result_folder("fcnt_plus_no_scale_filter") == "fcnt_plus_gnet_refit"  # and the preset before it
    assert result_folder("fcnt_plus_no_gnet_refit_no_scale_filter") == "plus-gnet_fallback-latest_sample"
    assert result_folder("FCNT_PLUS_GNET_FIT_ASPECT_NO_GNET_REFIT_NO_SCALE_FILTER") == "fcnt_plus"  # legacy
    assert result_folder("code") == "code" and result_folder("fcnt_plus_snet_size") == "fcnt_plus_snet_size"
    assert set(LEGACY_RESULT_FOLDERS) <= set(PLUS_VARIANTS)
    folders = [f for f in (REPO_ROOT / "experiments" / "results" / "fcnt_plus").glob("seed*/*/*") if f.is_dir()]
    assert len(folders) > 50
    for folder in folders:
        preset = by_folder.get(folder.name)
        assert preset is not None, f"{folder}: no preset is kept in a folder of that name"
        ran = FCNTConfig.from_dict(json.loads((folder / "config.json").read_text()))
        want = get_config(preset)
        assert dataclasses.replace(ran, preset=preset) == want, f"{folder}: config.json is not {preset}'s configuration"


@pytest.mark.parametrize("root, least", [("outside_dev", 20), ("full_otb8", 3)])
def test_the_outside_dev_and_full_length_folders_hold_the_configuration_of_their_preset(root, least):
    """experiments/results/{outside_dev,full_otb8}/<dataset>/<preset>/[run_*/] (named by today's
    presets when they ran, 2026-12-07): each config.json must still be that preset's, or the tables
    (experiments.outside_dev, experiments.full_length) would mislabel it."""
    import json

    from tests.conftest import REPO_ROOT

    configs = sorted((REPO_ROOT / "experiments" / "results" / root).glob("*/*/**/config.json"))
    assert len(configs) >= least
    for path in configs:
        preset = (path.parent.parent if path.parent.name.startswith("run_") else path.parent).name
        ran = FCNTConfig.from_dict(json.loads(path.read_text()))
        assert dataclasses.replace(ran, preset=preset) == get_config(preset), f"{path}: not {preset}'s configuration"


def test_rejected_candidates_are_one_change_on_fcnt_plus_as_first_built():
    code, first = get_config("code"), get_config("fcnt_plus_scale_from_start")
    for name, fields_changed in {
            "fcnt_plus_snet_size": {"localization.size_from_snet_map"},
            "fcnt_plus_motion_prior": {"localization.motion_prior"},
            "fcnt_plus_size_consensus": {"localization.size_consensus"},
            "fcnt_plus_motion_model": {"localization.motion_prior", "localization.motion_prior_size",
                                       "localization.constant_velocity"}}.items():
        candidate = get_config(name)
        assert _changed(candidate, first) == fields_changed and candidate.preset == name, name
        assert _changed(candidate, code) == _changed(first, code) | fields_changed, name  # code keeps them off
    with pytest.raises(ValueError, match="size_map_window"):
        get_config("fcnt_plus_snet_size", ["localization.size_map_window=0"])


def test_centroid_candidate_is_one_change_on_fcnt_plus_before_gnet_refit():
    candidate, plus = get_config("fcnt_plus_centroid"), get_config("fcnt_plus_no_gnet_refit_no_scale_filter")
    assert _changed(candidate, plus) == {"localization.centre_to_map_centroid"}
    assert candidate.preset == "fcnt_plus_centroid" and not get_config("code").localization.centre_to_map_centroid
    from fcnt_jax.config import ConfigError, LocalizationConfig
    with pytest.raises(ConfigError, match="localization.centre_to_map_centroid=1: must be true or false"):
        LocalizationConfig(centre_to_map_centroid=1)


def test_size_vote_candidate_is_one_change_on_fcnt_plus_before_gnet_refit():
    candidate, plus = get_config("fcnt_plus_size_vote"), get_config("fcnt_plus_no_gnet_refit_no_scale_filter")
    assert _changed(candidate, plus) == {"localization.size_vote"}
    assert candidate.preset == "fcnt_plus_size_vote" and not get_config("code").localization.size_vote
    from fcnt_jax.config import ConfigError, LocalizationConfig
    with pytest.raises(ConfigError, match="localization.size_vote=1: must be true or false"):
        LocalizationConfig(size_vote=1)


def test_scale_filter_is_one_change_on_fcnt_plus_before_it_joined():
    plus, before = get_config("fcnt_plus"), get_config("fcnt_plus_no_scale_filter")
    assert _changed(plus, before) == {"scale_filter.enabled"}  # _changed reads every section
    assert not get_config("code").scale_filter.enabled and not get_config("paper").scale_filter.enabled


def test_gnet_refit_is_one_change_on_fcnt_plus_before_it_joined():
    plus, before = get_config("fcnt_plus_no_scale_filter"), get_config("fcnt_plus_no_gnet_refit_no_scale_filter")
    assert _changed(plus, before) == {"heads.gnet_underfit_iterations"}
    assert plus.heads.gnet_underfit_iterations == 100 and get_config("code").heads.gnet_underfit_iterations == 0
    from fcnt_jax.config import ConfigError, HeadConfig
    with pytest.raises(ConfigError, match="heads.gnet_underfit_iterations=-1"):
        HeadConfig(gnet_underfit_iterations=-1)


def test_from_dict_reads_back_every_preset_and_fills_fields_a_record_predates():
    for name in config_module.PRESETS:
        cfg = get_config(name)
        assert FCNTConfig.from_dict(cfg.to_dict()) == cfg, name
    record = get_config("fcnt_plus").to_dict()
    del record["localization"]["centre_to_map_centroid"]  # written before the field existed
    assert FCNTConfig.from_dict(record) == get_config("fcnt_plus")
    from fcnt_jax.config import ConfigError
    record["localization"]["retired_field"] = 1
    with pytest.raises(ConfigError, match="localization has no field retired_field"):
        FCNTConfig.from_dict(record)
    with pytest.raises(ConfigError, match="heads: expected a section"):
        FCNTConfig.from_dict({"heads": 3})
    with pytest.raises(ConfigError, match="localization.num_particles=0"):  # values are still checked
        FCNTConfig.from_dict({"localization": {"num_particles": 0}})
