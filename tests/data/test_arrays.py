import numpy as np
import pytest
import torch

from pyrovae.data import load_dataset
from pyrovae.errors import ConfigError, DataError


@pytest.mark.parametrize(
    "shape,event",
    [((40, 5), (5,)), ((40, 4, 3), (1, 4, 3)), ((40, 2, 4, 3), (2, 4, 3))],
)
def test_npy_shapes(tmp_path, shape, event):
    x = np.random.default_rng(0).random(shape)
    np.save(tmp_path / "x.npy", x)
    d = load_dataset(str(tmp_path / "x.npy"))
    assert d.event_shape == event
    assert (len(d.train), len(d.valid), len(d.test)) == (28, 4, 8)
    assert d.num_classes is None and d.train.y is None
    got = torch.cat([d.train.x, d.valid.x, d.test.x]).reshape(40, -1).double()
    ref = torch.as_tensor(x).reshape(40, -1)
    assert torch.allclose(got.sort(0).values, ref.sort(0).values)


@pytest.mark.parametrize("shape", [(40,), (40, 1, 2, 3, 4)])
def test_bad_shape(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape))
    with pytest.raises(DataError, match=r"accepted shapes are \(N, D\), \(N, H, W\)"):
        load_dataset(str(tmp_path / "x.npy"))


def test_uint8_scaled_float_kept_bool(tmp_path):
    np.save(tmp_path / "u.npy", np.full((20, 3), 255, np.uint8))
    assert load_dataset(str(tmp_path / "u.npy")).train.x.eq(1.0).all()
    np.save(tmp_path / "f.npy", np.full((20, 3), 7.5))
    d = load_dataset(str(tmp_path / "f.npy"))
    assert d.train.x.dtype == torch.float32 and d.train.x.eq(7.5).all()
    np.save(tmp_path / "b.npy", np.ones((20, 3), bool))
    assert load_dataset(str(tmp_path / "b.npy")).test.x.eq(1.0).all()


def test_npz_x_y(tmp_path):
    x = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    y = np.arange(50) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = load_dataset(str(tmp_path / "d.npz"))
    assert d.num_classes == 4
    for s in ("train", "valid", "test"):
        split = d.split(s)
        assert split.y.dtype == torch.int64
        assert torch.equal(split.y, (split.x[:, 0] / 3).long() % 4)  # labels aligned


def test_npz_fixed_splits(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.random((30, 6)), y_train=np.zeros(30, int),
             x_test=rng.random((7, 6)), y_test=np.ones(7, int))
    d = load_dataset(str(tmp_path / "d.npz"), valid_fraction=0.2)
    assert (len(d.train), len(d.valid), len(d.test)) == (24, 6, 7)  # valid carved from train
    assert d.test.y.eq(1).all() and d.valid.y.eq(0).all() and d.num_classes == 2
    np.savez(tmp_path / "e.npz", x_train=rng.random((30, 6)), x_valid=rng.random((5, 6)),
             x_test=rng.random((7, 6)))
    d = load_dataset(str(tmp_path / "e.npz"))
    assert (len(d.train), len(d.valid), len(d.test)) == (30, 5, 7)


def test_relative_path_in_data_dir(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 2)))
    assert len(load_dataset("x.npy", data_dir=tmp_path).test) == 4


def test_nan_values(tmp_path):
    x = np.zeros((100, 3))
    x[:, 1] = np.nan
    x[0, 0] = np.inf
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError, match=r"\d+ NaN/inf values in (train|valid|test) of .*x.npy; "
                                        "clean or impute"):
        load_dataset(str(tmp_path / "x.npy"))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.npz does not exist"):
        load_dataset(str(tmp_path / "nope.npz"))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_corrupt_file(tmp_path, suffix):
    p = tmp_path / ("junk" + suffix)
    p.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(DataError, match="cannot read .*junk"):
        load_dataset(str(p))


def test_truncated_npz(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, x=np.zeros((100, 10)))
    p.write_bytes(p.read_bytes()[:600])
    with pytest.raises(DataError, match="t.npz"):
        load_dataset(str(p))


def test_missing_key(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((10, 2)), labels=np.zeros(10))
    with pytest.raises(DataError, match="no array 'x' or 'x_train' .*keys present: images, labels"):
        load_dataset(str(tmp_path / "d.npz"))
    np.savez(tmp_path / "e.npz", x_train=np.zeros((10, 2)), y_test=np.zeros(3, int))
    with pytest.raises(DataError, match="'y_test' but no 'x_test'"):
        load_dataset(str(tmp_path / "e.npz"))


def test_bad_labels(tmp_path):
    np.savez(tmp_path / "f.npz", x=np.zeros((20, 2)), y=np.zeros(20, float))
    with pytest.raises(DataError, match="labels must be integers"):
        load_dataset(str(tmp_path / "f.npz"))
    np.savez(tmp_path / "g.npz", x=np.zeros((20, 2)), y=np.zeros(19, int))
    with pytest.raises(DataError, match="20 examples but 19 labels"):
        load_dataset(str(tmp_path / "g.npz"))
    np.savez(tmp_path / "h.npz", x_train=np.zeros((20, 2)), y_train=np.zeros(20, int),
             x_test=np.zeros((5, 2)))
    with pytest.raises(DataError, match="label all splits or none"):
        load_dataset(str(tmp_path / "h.npz"))


def test_non_numeric(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"]] * 20))
    with pytest.raises(DataError, match="numeric"):
        load_dataset(str(tmp_path / "s.npy"))


def test_mismatched_split_shapes(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((20, 2)), x_test=np.zeros((5, 3)))
    with pytest.raises(DataError, match="different example shapes"):
        load_dataset(str(tmp_path / "d.npz"))


def test_too_small_for_fractions(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    with pytest.raises(DataError, match="too few"):
        load_dataset(str(tmp_path / "x.npy"))


def test_options_rejected(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 2)))
    with pytest.raises(ConfigError, match="takes no options"):
        load_dataset(str(tmp_path / "x.npy"), options={"a": 1})


# -- hostile files: sizes, types and shapes, each one DataError line (issue 22) --------------

import io  # noqa: E402
import zipfile  # noqa: E402

from pyrovae.cli import main  # noqa: E402

GOOD = np.random.default_rng(0).random((40, 4, 4)).astype(np.float32)
CLASSES = np.arange(40) % 3


def _forged_header(shape, descr="<f4", data=b"", version=(1, 0)):
    """The bytes of an .npy file whose header claims ``shape`` but holds ``data``."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    write = (np.lib.format.write_array_header_1_0 if version == (1, 0)
             else np.lib.format.write_array_header_2_0)
    write(buf, header)
    return buf.getvalue() + data


def _npy(array):
    def make(path):
        np.save(path, array, allow_pickle=True)
    return make, ".npy"


def _npz(**arrays):
    def make(path):
        np.savez(path, allow_pickle=True, **arrays)
    return make, ".npz"


def _raw(data, suffix=".npy"):
    def make(path):
        path.write_bytes(data() if callable(data) else data)
    return make, suffix


def _zip(members):
    def data():
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        return buf.getvalue()
    return _raw(data, ".npz")


def _npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _truncated(fraction):
    return _raw(lambda: _npy_bytes(GOOD)[:int(len(_npy_bytes(GOOD)) * fraction)])


def _forged_member():
    """An .npz whose x claims 10^12 examples (np.load would allocate them before reading)."""
    return _zip({"x.npy": _forged_header((10**12, 4, 4), data=GOOD.tobytes())})


HOSTILE = [
    # sizes
    ("header-claims-1e12-examples",
     _raw(_forged_header((10**12, 4, 4), data=GOOD.tobytes())),
     "truncated or its header is forged"),
    ("header-claims-1e12-v2",
     _raw(_forged_header((10**12, 4), data=GOOD.tobytes(), version=(2, 0))),
     "claims shape (1000000000000, 4)"),
    ("npz-member-claims-1e12", _forged_member(), "array 'x' of"),
    ("header-claims-overflowing-size",
     _raw(_forged_header((2**62, 2**62), data=b"\0" * 64)), "truncated or its header is forged"),
    ("header-claims-negative-length",
     _raw(_forged_header((40, -4), data=GOOD.tobytes())), "with negative lengths"),
    ("truncated-npy-half", _truncated(0.5), "holds only 1.2 KiB of data"),
    ("truncated-npy-in-header", _truncated(0.02), "cannot read"),
    ("empty-file", _raw(b""), "cannot read"),
    ("zero-width", _npy(np.zeros((40, 0))), "hold no values"),
    ("zero-width-image", _npy(np.zeros((40, 4, 0))), "examples of shape (4, 0) hold no values"),
    ("zero-channels", _npy(np.zeros((40, 0, 4, 4))), "hold no values"),
    ("zero-width-npz", _npz(x=np.zeros((40, 3, 0, 2))), "hold no values"),
    # types of the examples
    ("object-array", _npy(np.array([object()] * 40, dtype=object)), "holds Python objects"),
    ("object-labels", _npz(x=GOOD, y=np.array([1] * 40, dtype=object)), "holds Python objects"),
    ("complex64", _npy(GOOD.astype(np.complex64)), "data must be real numbers"),
    ("complex128", _npy(GOOD.astype(np.complex128)), "data must be real numbers"),
    ("strings", _npy(np.array([["a", "b"]] * 40)), "data must be numeric"),
    ("datetimes", _npy(np.zeros((40, 2), "datetime64[s]")), "data must be numeric"),
    ("structured", _npy(np.zeros((40, 2), [("a", "f4"), ("b", "f4")])), "data must be numeric"),
    # shapes of the examples
    ("one-d", _npy(GOOD[:, 0, 0]), "for one value per example save x.reshape(-1, 1)"),
    ("zero-d", _npy(np.float32(3.0)), "accepted shapes"),
    ("six-d", _npy(GOOD.reshape(40, 1, 1, 1, 4, 4)), "accepted shapes"),
    # labels
    ("uint64-labels-beyond-int64", _npz(x=GOOD, y=np.full(40, 2**63 + 5, np.uint64)),
     "go up to 9223372036854775813"),
    ("uint64-labels-huge", _npz(x=GOOD, y=np.full(40, 10**12, np.uint64)),
     "labels go up to 1000000000000"),
    ("bool-labels", _npz(x=GOOD, y=np.arange(40) % 2 == 0), "are booleans"),
    ("negative-labels", _npz(x=GOOD, y=CLASSES - 1), "negative labels"),
    ("int8-negative-labels", _npz(x=GOOD, y=(CLASSES - 1).astype(np.int8)), "negative labels"),
    ("fractional-labels", _npz(x=GOOD, y=CLASSES + 0.5), "with fractional values"),
    ("integral-float-labels", _npz(x=GOOD, y=CLASSES.astype(float)), "save them as y.astype(int)"),
    ("nan-labels", _npz(x=GOOD, y=np.full(40, np.nan)), "labels must be integers"),
    ("short-labels", _npz(x=GOOD, y=CLASSES[:39]), "40 examples but 39 labels"),
    ("long-labels", _npz(x=GOOD, y=np.arange(41) % 3), "40 examples but 41 labels"),
    ("column-labels", _npz(x=GOOD, y=CLASSES[:, None]), "save them as y.reshape(-1)"),
    ("one-hot-labels", _npz(x=GOOD, y=np.eye(3, dtype=int)[CLASSES]), "save y.argmax(1)"),
    ("string-labels", _npz(x=GOOD, y=np.array(["cat", "dog"] * 20)), "labels must be integers"),
    ("complex-labels", _npz(x=GOOD, y=CLASSES.astype(complex)), "labels must be integers"),
    ("split-labels-2d", _npz(x_train=GOOD, y_train=np.zeros((40, 2), int)), "shape (N,)"),
    # the keys of an .npz
    ("npz-without-x", _npz(images=GOOD), "no array 'x' or 'x_train' (keys present: images)"),
    ("npz-empty", _zip({}), "keys present: none"),
    ("npz-extra-key", _npz(x=GOOD, y=CLASSES, z=GOOD), "holds an array 'z' that pyrovae"),
    ("npz-misspelt-split", _npz(x_train=GOOD, y_tset=CLASSES), "'y_tset'"),
    ("npz-x-with-split-key", _npz(x=GOOD, x_test=GOOD), "'x_test'"),
    ("npz-x-and-x-train", _npz(x=GOOD, x_train=GOOD), "holds both 'x' and 'x_train'"),
    ("npz-not-an-array-inside", _zip({"x.npy": _npy_bytes(GOOD), "notes.txt": b"hi"}),
     "holds a file 'notes.txt' that is not a numpy array"),
    ("npz-member-truncated", _zip({"x.npy": _npy_bytes(GOOD)[:300]}), "truncated"),
    # not numpy files at all
    ("text-as-npy", _raw(b"1,2,3\n4,5,6\n"), "not a numpy header"),
    ("pickle-as-npy", _raw(b"\x80\x04\x95" + b"\0" * 40), "cannot read"),
    ("npz-as-npy-name-corrupt", _raw(b"PK\x03\x04 not a zip"), "cannot read"),
    ("garbage-header", _raw(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n"), "cannot read"),
]


@pytest.mark.parametrize("name,made,fragment", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_file_is_one_data_error(tmp_path, name, made, fragment):
    make, suffix = made
    path = tmp_path / f"{name}{suffix}"
    make(path)
    with pytest.raises(DataError) as caught:
        load_dataset(str(path))
    message = str(caught.value)
    assert fragment in message, message
    assert "\n" not in message and str(path) in message


def _version(version):
    def make(path):
        with open(path, "wb") as f:
            np.lib.format.write_array(f, GOOD, version=version)
    return make, ".npy"


def _compressed(path):
    np.savez_compressed(path, x=GOOD, y=CLASSES)


#: files that load, as the same numbers as GOOD (float32 of it) with CLASSES where labelled
WORKS = [
    ("fortran-order", _npy(np.asfortranarray(GOOD))),
    ("fortran-order-float64", _npy(np.asfortranarray(GOOD.astype(np.float64)))),
    ("big-endian-float32", _npy(GOOD.astype(">f4"))),
    ("big-endian-float64", _npy(GOOD.astype(">f8"))),
    ("float16", _npy(GOOD.astype(np.float16))),
    ("longdouble", _npy(GOOD.astype(np.longdouble))),
    ("header-version-2", _version((2, 0))),
    ("header-version-3", _version((3, 0))),
    ("compressed-npz", (_compressed, ".npz")),
    ("int8-labels", _npz(x=GOOD, y=CLASSES.astype(np.int8))),
    ("uint8-labels", _npz(x=GOOD, y=CLASSES.astype(np.uint8))),
    ("uint64-labels", _npz(x=GOOD, y=CLASSES.astype(np.uint64))),
    ("big-endian-labels", _npz(x=GOOD, y=CLASSES.astype(">i8"))),
    ("fortran-big-endian-npz", _npz(x=np.asfortranarray(GOOD.astype(">f8")), y=CLASSES)),
]


@pytest.mark.parametrize("name,made", WORKS, ids=[case[0] for case in WORKS])
def test_unusual_but_valid_files_load(tmp_path, name, made):
    make, suffix = made
    path = tmp_path / f"{name}{suffix}"
    make(path)
    d = load_dataset(str(path))
    assert d.event_shape == (1, 4, 4) and d.train.x.dtype == torch.float32
    got = torch.cat([d.train.x, d.valid.x, d.test.x]).reshape(40, -1)
    tolerance = 1e-3 if name == "float16" else 0
    ref = torch.from_numpy(GOOD.astype(np.float16) if name == "float16" else GOOD)
    assert torch.allclose(got.sort(0).values, ref.reshape(40, -1).float().sort(0).values,
                          atol=tolerance, rtol=0)
    if suffix == ".npz":
        assert d.num_classes == 3 and d.train.y.dtype == torch.int64
        ys = torch.cat([d.train.y, d.valid.y, d.test.y]).sort().values
        assert torch.equal(ys, torch.from_numpy(CLASSES).sort().values)


def test_uint8_images_of_any_layout_scale_alike(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "last.npy", images)
    np.save(tmp_path / "first.npy", np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    last, first = (load_dataset(str(tmp_path / n)) for n in ("last.npy", "first.npy"))
    assert last.event_shape == first.event_shape == (3, 6, 6)
    assert torch.equal(last.train.x, first.train.x)
    assert torch.equal(first.train.x[:1].mul(255).round(), first.train.x[:1].mul(255))


def test_channels_last_splits_of_an_npz(tmp_path):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "d.npz", x_train=rng.random((30, 8, 8, 2)), x_test=rng.random((6, 8, 8, 2)))
    d = load_dataset(str(tmp_path / "d.npz"))
    assert d.event_shape == (2, 8, 8) and len(d.test) == 6


def test_a_file_beyond_this_machines_memory_is_refused_before_loading(tmp_path, monkeypatch):
    """The claimed size (as stored, plus the float32 copy) is checked against the memory
    there is, with the header alone: here a machine of 1 KiB."""
    import pyrovae.memory

    np.save(tmp_path / "x.npy", GOOD)
    monkeypatch.setattr(pyrovae.memory, "available_bytes", lambda device="cpu": 1024)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was called"))
    with pytest.raises(DataError, match=r"loading .*x.npy \(x \(40, 4, 4\) float32\) would need "
                                        r"5.0 KiB of memory, but this machine has 1.0 KiB"):
        load_dataset(str(tmp_path / "x.npy"))


CLI_HOSTILE = ["header-claims-1e12-examples", "zero-width", "uint64-labels-beyond-int64",
               "object-array", "npz-extra-key", "truncated-npy-half"]


@pytest.mark.parametrize("name", CLI_HOSTILE)
def test_hostile_files_at_the_command_line_are_one_line(tmp_path, capsys, name):
    (_, (make, suffix), fragment), = [case for case in HOSTILE if case[0] == name]
    path = tmp_path / f"{name}{suffix}"
    make(path)
    assert main(["train", "--dataset", str(path), "--out", str(tmp_path / "run"), "--quiet",
                 "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyrovae: error:") and fragment in err[0], err
    assert not (tmp_path / "run").exists()
