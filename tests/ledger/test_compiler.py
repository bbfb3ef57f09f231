"""The build is reproducible: the committed artifacts and revert classes are what the sources give."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from ledger import compiler
from ledger._abi import abi_type
from ledger._errorgen import ERRORS_MODULE, error_signature, render_module
from ledger.artifacts import ARTIFACTS_DIR, artifact_names, load_artifact
from ledger.exceptions import CompilationError, ContractRevert, Panic, RevertWithReason, UnknownRevert
from ledger.revert_errors import ERRORS, FundLedgerInsufficientFunds
from ledger.reverts import decode_revert

COMPILE_HINT = "run `allmende compile` (or `make compile`) and commit the result"
OZ = "@openzeppelin/contracts/"
NODE_MODULES = compiler.PROJECT_ROOT / "node_modules"

needs_openzeppelin = pytest.mark.skipif(
    not (NODE_MODULES / OZ).is_dir(), reason="node_modules/@openzeppelin/contracts is not installed (npm ci)"
)


def _diff_excerpt(name: str, committed: str, built: str, max_lines: int = 12) -> str:
    lines = difflib.unified_diff(
        committed.splitlines(), built.splitlines(), f"committed/{name}", f"built/{name}", lineterm="", n=1
    )
    return "\n".join(line[:160] for line in list(lines)[:max_lines])


# --- (a) artifacts -----------------------------------------------------------------------------


def test_the_compiler_cache_returns_an_output_only_for_the_same_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def compile_once(compiler_input: dict[str, Any], native: Path | None, root: Path) -> dict[str, Any]:
        calls.append(compiler_input)
        return {"contracts": {}, "n": len(calls)}

    monkeypatch.setattr(compiler, "_compile", compile_once)
    monkeypatch.setenv(compiler.CACHE_ENV, str(tmp_path / "cache"))
    one = {"language": "Solidity", "sources": {"a.sol": {"content": "contract A {}"}}}
    other = {"language": "Solidity", "sources": {"a.sol": {"content": "contract B {}"}}}
    assert compiler.run_compiler(one) == {"contracts": {}, "n": 1}
    assert compiler.run_compiler(json.loads(json.dumps(one))) == {"contracts": {}, "n": 1}
    assert compiler.run_compiler(other) == {"contracts": {}, "n": 2}
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("*.json"))) == 2
    assert not list((tmp_path / "cache").glob("*.part"))
    monkeypatch.delenv(compiler.CACHE_ENV)
    assert compiler.run_compiler(one) == {"contracts": {}, "n": 3}  # unset: always compiled


@pytest.mark.node
def test_recompiled_artifacts_equal_the_committed_files_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(compiler.CACHE_ENV, raising=False)  # a fresh build, not an earlier output
    built = compiler.render_artifacts()
    committed = {p.name: p.read_bytes() for p in sorted(ARTIFACTS_DIR.glob("*.json"))}
    missing = sorted(set(built) - set(committed))
    extra = sorted(set(committed) - set(built))
    differing = sorted(n for n in set(built) & set(committed) if built[n].encode("utf-8") != committed[n])
    if missing or extra or differing:
        report = [f"ledger/artifacts/ does not match the Solidity sources; {COMPILE_HINT}."]
        if differing:
            report.append(f"differing: {', '.join(differing)}")
        if missing:
            report.append(f"missing (the sources produce them): {', '.join(missing)}")
        if extra:
            report.append(f"stale (no source produces them): {', '.join(extra)}")
        for name in differing[:2]:
            report.append(_diff_excerpt(name, committed[name].decode("utf-8", "replace"), built[name]))
        pytest.fail("\n".join(report), pytrace=False)


def test_committed_artifacts_agree_with_their_build_info() -> None:
    """Cheap consistency check that needs no compiler: every artifact names the pinned build."""
    info = json.loads((ARTIFACTS_DIR / "build-info.json").read_text(encoding="utf-8"))
    assert info["compiler"] == f"solc {compiler.SOLC_VERSION}"
    assert info["settings"]["evmVersion"] == compiler.EVM_VERSION
    for name in artifact_names():
        data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert data["contractName"] == name
        assert data["compiler"] == info["compiler"], name
        assert data["sourceSha256"] == info["sources"][data["sourceName"]], name


# --- (b) generated revert classes ----------------------------------------------------------------


def test_generated_revert_module_equals_the_committed_file() -> None:
    rendered = render_module()
    committed = ERRORS_MODULE.read_text(encoding="utf-8")
    if rendered != committed:
        excerpt = _diff_excerpt("ledger/revert_errors.py", committed, rendered, max_lines=30)
        message = f"ledger/revert_errors.py is not what the committed artifacts generate; {COMPILE_HINT}."
        pytest.fail(f"{message}\n{excerpt}", pytrace=False)


# --- (c) every ABI error decodes to its class ------------------------------------------------------


_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def _split_tuple(kind: str) -> list[str]:
    inner, parts, depth, start = kind[1:-1], [], 0, 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts


def sample_value(kind: str, seed: int) -> Any:
    """A distinctive value of ABI type `kind`, in the form `decode_revert` returns it."""
    array = _ARRAY.match(kind)
    if array:
        item, size = array.group(1), array.group(2)
        count = int(size) if size else 2
        return tuple(sample_value(item, seed * 7 + i + 1) for i in range(count))
    if kind.startswith("("):
        return tuple(sample_value(part, seed * 11 + i + 1) for i, part in enumerate(_split_tuple(kind)))
    if kind == "address":
        return to_checksum_address(keccak(text=f"address-{seed}")[-20:])
    if kind == "bool":
        return seed % 2 == 1
    if kind == "string":
        return f"sample string #{seed} \N{EURO SIGN}"
    if kind == "bytes":
        return keccak(text=f"bytes-{seed}")[: 5 + seed % 20]
    if kind.startswith("bytes"):
        return keccak(text=f"{kind}-{seed}")[: int(kind[5:])]
    if kind.startswith("uint"):
        bits = int(kind[4:] or 256)
        return (2**bits - 1) - seed if seed % 2 else 1 + seed * 1_000_003 % (2**bits - 1)
    if kind.startswith("int"):
        bits = int(kind[3:] or 256)
        return -(2 ** (bits - 1)) + seed if seed % 2 else 2 ** (bits - 1) - 1 - seed
    raise NotImplementedError(f"no sample for ABI type {kind}")


def _abi_errors() -> list[tuple[str, dict[str, Any]]]:
    return [
        (artifact, entry)
        for artifact in artifact_names()
        for entry in load_artifact(artifact).abi
        if entry["type"] == "error"
    ]


@pytest.mark.parametrize(
    ("artifact", "entry"),
    [pytest.param(a, e, id=f"{a}.{e['name']}") for a, e in _abi_errors()],
)
def test_every_abi_error_decodes_to_its_own_class(artifact: str, entry: dict[str, Any]) -> None:
    types = [abi_type(p) for p in entry["inputs"]]
    values = tuple(sample_value(t, i + 1) for i, t in enumerate(types))
    selector = keccak(text=error_signature(entry))[:4]
    decoded = decode_revert(selector + encode(types, list(values)))
    assert not isinstance(decoded, UnknownRevert), f"{entry['name']} ({artifact}) decodes as {decoded!r}"
    assert type(decoded).__name__ == entry["name"]
    assert type(decoded).selector == selector
    assert decoded.values == values
    names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"]))
    assert decoded.fields == dict(zip(names, values, strict=True))


def test_error_selectors_are_unique() -> None:
    classes: list[type[ContractRevert]] = [*ERRORS, RevertWithReason, Panic]
    selectors = [cls.selector for cls in classes]
    assert len(set(selectors)) == len(selectors)
    assert {cls.__name__ for cls in ERRORS} == {entry["name"] for _, entry in _abi_errors()}


def test_builtin_reverts_and_unknown_data_decode() -> None:
    reason = decode_revert(RevertWithReason.selector + encode(["string"], ["kein Geld"]))
    assert type(reason) is RevertWithReason and reason.values == ("kein Geld",)
    panic = decode_revert(Panic.selector + encode(["uint256"], [0x11]))
    assert type(panic) is Panic and panic.values == (0x11,)
    unknown = decode_revert(bytes.fromhex("deadbeef") + bytes(32))
    assert type(unknown) is UnknownRevert and unknown.values == ("0xdeadbeef" + "00" * 32,)
    truncated = FundLedgerInsufficientFunds.selector + bytes(40)  # two uint256 need 64 bytes
    assert type(decode_revert(truncated)) is UnknownRevert


# --- (d) the import resolver -------------------------------------------------------------------------


@needs_openzeppelin
def test_import_resolver_collects_openzeppelin_sources_from_node_modules() -> None:
    sources = compiler.collect_sources()
    own = sorted(
        p.relative_to(compiler.PROJECT_ROOT).as_posix()
        for p in (compiler.PROJECT_ROOT / compiler.CONTRACTS_DIR).rglob("*.sol")
    )
    assert set(own) <= set(sources)
    openzeppelin = [unit for unit in sources if unit.startswith(OZ)]
    assert openzeppelin, "no OpenZeppelin source was collected"
    for unit in openzeppelin:
        assert sources[unit] == (NODE_MODULES / unit).read_text(encoding="utf-8"), unit
    # Closed under imports: every import of every collected unit is collected too.
    for unit, text in sources.items():
        for imported in compiler._IMPORT_RE.findall(text):
            assert compiler._resolve(imported, unit) in sources, f"{unit} imports {imported}"
    # Only what is needed: nothing from node_modules that no source imports.
    assert len(openzeppelin) < sum(1 for _ in (NODE_MODULES / OZ).rglob("*.sol"))
    assert list(sources) == sorted(sources)


@needs_openzeppelin
def test_openzeppelin_in_node_modules_is_the_pinned_version() -> None:
    pinned = json.loads((compiler.PROJECT_ROOT / "package.json").read_text())["dependencies"]
    installed = json.loads((NODE_MODULES / OZ / "package.json").read_text())["version"]
    assert installed == pinned["@openzeppelin/contracts"]


def test_import_resolution_follows_solc_rules() -> None:
    importer = OZ + "access/AccessControl.sol"
    assert compiler._resolve("../utils/Context.sol", importer) == OZ + "utils/Context.sol"
    assert compiler._resolve("./IAccessControl.sol", importer) == OZ + "access/IAccessControl.sol"
    assert compiler._resolve(OZ + "token/ERC20/ERC20.sol", "contracts/EuroToken.sol") == (
        OZ + "token/ERC20/ERC20.sol"
    )
    text = 'import {A, B} from "./x/A.sol";\nimport "../B.sol";\n  import * as C from \'@oz/C.sol\';\n'
    assert compiler._IMPORT_RE.findall(text) == ["./x/A.sol", "../B.sol", "@oz/C.sol"]


def test_missing_import_is_a_compilation_error(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "A.sol").write_text('import "@nowhere/Missing.sol";\ncontract A {}\n')
    with pytest.raises(CompilationError, match=re.escape("@nowhere/Missing.sol")):
        compiler.collect_sources(tmp_path)


def test_solc_select_shim_on_the_path_is_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slither's solc-select installs a `solc` that downloads compilers; the compiler must skip it."""
    marker = tmp_path / "ran"
    shim = tmp_path / "solc"
    shim.write_text(
        "#!/bin/sh\n# from solc_select.__main__ import solc\n"
        f"touch {marker}\necho 'Version: {compiler.SOLC_VERSION}+commit.00000000.Linux.g++'\n",
        encoding="utf-8",
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert compiler._native_solc() is None
    assert not marker.exists()
