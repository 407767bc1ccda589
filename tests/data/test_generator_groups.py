"""Multi-group synthetic data: ``generate_groups``, ``groups:`` in the config, ``--groups``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mediamix.cli import main
from mediamix.config.base import ConfigError
from mediamix.config.generator import GeneratorConfig
from mediamix.data.generator import GROUP_COLUMN, Generator, generate_groups


def test_groups_are_independent_data_sets_with_their_own_truth(basic_config_path: Path) -> None:
    gen = Generator.from_config_file(basic_config_path)
    grouped = generate_groups(gen, 3, seed=5)
    data = grouped.data
    assert list(data.columns[:2]) == ["date", GROUP_COLUMN]
    assert sorted(grouped.truths) == sorted(data[GROUP_COLUMN].unique()) == ["g01", "g02", "g03"]
    n = len(gen.dates())
    assert (data.groupby(GROUP_COLUMN).size() == n).all()
    g1, g2 = (data[data[GROUP_COLUMN] == g].reset_index(drop=True) for g in ("g01", "g02"))
    assert not g1["adwords"].equals(g2["adwords"])  # different draws per group
    assert grouped.truths["g01"].roas != grouped.truths["g02"].roas
    # each group's rows are exactly what its truth's seed gives on its own
    alone = gen.generate(seed=grouped.truths["g02"].seed).data
    pd.testing.assert_frame_equal(g2.drop(columns=GROUP_COLUMN), alone)
    # the same seed gives the same groups
    again = generate_groups(gen, 3, seed=5).data
    pd.testing.assert_frame_equal(data, again)


def test_groups_must_be_positive(basic_config_path: Path) -> None:
    with pytest.raises(ConfigError, match="groups must be a positive integer, got 0"):
        generate_groups(Generator.from_config_file(basic_config_path), 0)


def test_group_column_cannot_clash_with_a_channel(basic_config_path: Path) -> None:
    raw = yaml.safe_load(basic_config_path.read_text())
    raw["groups"] = 2
    raw["media"]["group"] = raw["media"].pop("adwords")
    with pytest.raises(ValueError, match=r"\(with groups\) 'group': \['group'\] repeat"):
        GeneratorConfig.model_validate(raw)


def test_cli_generate_groups_from_flag_and_config(basic_config_path: Path, tmp_path: Path) -> None:
    out, truth = tmp_path / "many.csv", tmp_path / "truth.json"
    args = ["generate", "--config", str(basic_config_path), "--out", str(out)]
    assert main([*args, "--groups", "2", "--truth", str(truth)]) == 0
    data = pd.read_csv(out)
    assert sorted(data[GROUP_COLUMN].unique()) == ["g01", "g02"]
    saved = json.loads(truth.read_text())
    assert saved["group_column"] == GROUP_COLUMN
    assert set(saved["groups"]["g02"]["channels"]) == {"adwords", "facebook", "linkedin"}
    raw = yaml.safe_load(basic_config_path.read_text()) | {"groups": 3}
    cfg = tmp_path / "gen.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["generate", "--config", str(cfg), "--out", str(out)]) == 0
    assert pd.read_csv(out)[GROUP_COLUMN].nunique() == 3
    assert main(["generate", "--config", str(cfg), "--out", str(out), "--ingest"]) == 2
