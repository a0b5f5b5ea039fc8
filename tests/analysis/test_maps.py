import numpy as np

from pyglass import builders
from pyglass.analysis.maps import draw_field_map


def test_map_png_2d_and_3d(tmp_path):
    s2 = builders.lattice(100, 0.9, 2, (0.5, 0.5), jitter=0.05)
    field = np.sin(s2.positions[:, 0])
    p = draw_field_map(s2.positions, s2.box, field, tmp_path / "m2.png", highlight=field > 0.9, label="f")
    assert p.stat().st_size > 1000 and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    s3 = builders.lattice(125, 1.0, 3)
    p3 = draw_field_map(s3.positions, s3.box, s3.positions[:, 1], tmp_path / "m3.png", slab=(2.5, 1.0))
    assert p3.stat().st_size > 1000


def test_map_rejects_wrong_field_length(tmp_path):
    import pytest
    s2 = builders.lattice(16, 0.9, 2)
    with pytest.raises(ValueError, match="one value per particle"):
        draw_field_map(s2.positions, s2.box, np.ones(3), tmp_path / "x.png")
