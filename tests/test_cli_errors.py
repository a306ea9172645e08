"""Bad input on the command line: one line on stderr, exit status 2, nothing left in results/."""

from __future__ import annotations

import pytest

from tests.conftest import run_main


@pytest.mark.parametrize(("args", "expected"), [
    (["model.hidden_units=abc"], "error: model.hidden_units: "),
    (["model.hiden=3"], "error: model.hiden: unknown key; allowed: hidden_units, dropout, activation"),
    (["trainer.epochs=0"], "error: trainer.epochs=0 is invalid: must be >= 1"),
    (["optimizer.lr=-1"], "error: optimizer.lr=-1.0 is invalid: must be > 0"),
    (["trainer.batch_size=0"], "error: trainer.batch_size=0 is invalid: must be >= 1"),
    (["model=foo"], "error: model=foo: no such option; available: cnn, mlp"),
    (["dataset=bar"], "error: dataset=bar: no such option; available: cifar10, digits, fashion_mnist, mnist, synthetic"),
    (["model.dropout=["], "error: cannot parse override: "),
])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, expected):
    (tmp_path / "results" / "earlier").mkdir(parents=True)
    (tmp_path / "results" / "earlier" / "metrics.json").write_text("{}")
    result = run_main(tmp_path, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr
    created = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "results").rglob("*"))
    assert created == ["results/earlier", "results/earlier/metrics.json"]
