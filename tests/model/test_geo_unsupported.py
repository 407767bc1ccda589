"""What a geo model does not do yet is refused before any fit, with what to do instead."""

from __future__ import annotations

import pytest

from mediamix.config.base import ConfigError
from mediamix.model.builder import prepare_data
from tests.geo_fit import small_geo_data, small_geo_model_config


def _config(**changes: object):  # type: ignore[no-untyped-def]
    raw = small_geo_model_config().model_dump(mode="json", exclude_none=True)
    return type(small_geo_model_config()).model_validate({**raw, **changes})


def test_geo_model_refuses_a_window() -> None:
    try:
        config = _config(window={"start": "2021-06-07"})
    except ConfigError as err:  # a config-level refusal is as good, if it names the key
        assert "window" in str(err)
        return
    with pytest.raises(ConfigError, match="not supported for geo models") as err:
        prepare_data(small_geo_data().data, config)
    assert "window" in str(err.value)
