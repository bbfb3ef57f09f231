"""Compile the Solidity sources with the pinned compiler into artifacts the Python side loads.

All sources, OpenZeppelin's included, go into one self-contained standard-JSON input, so the
output depends on that input alone: solc-js (npm, pinned) and a native solc of the same version
produce the same bytecode, and the committed artifacts can be checked against the sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.artifacts import ARTIFACTS_DIR
from ledger.exceptions import CompilationError

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 1000

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = "contracts"

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)


@dataclass(frozen=True)
class CompiledContract:
    """One deployable contract as solc produced it."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    userdoc: dict[str, Any]


def _resolve(unit: str, importing: str) -> str:
    """Source unit name of an import, solc style: relative to the importer or from node_modules."""
    if unit.startswith("."):
        parts: list[str] = importing.split("/")[:-1]
        for part in unit.split("/"):
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)
    return unit


def _read_unit(unit: str, root: Path) -> str:
    for base in (root, root / "node_modules"):
        path = base / unit
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise CompilationError(f"cannot find Solidity source {unit!r} (run `npm ci`?)")


def collect_sources(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Every source unit the project's contracts need, keyed by solc source unit name."""
    pending = sorted(p.relative_to(root).as_posix() for p in (root / CONTRACTS_DIR).rglob("*.sol"))
    sources: dict[str, str] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = _read_unit(unit, root)
        sources[unit] = text
        pending.extend(_resolve(imp, unit) for imp in _IMPORT_RE.findall(text))
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str]) -> dict[str, Any]:
    """The standard-JSON compiler input for `sources`."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "metadata": {"bytecodeHash": "ipfs"},
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "userdoc"]}
            },
        },
    }


def _native_solc() -> Path | None:
    """A native solc of the pinned version, if py-solc-x or the system has one."""
    try:
        import solcx

        for version in solcx.get_installed_solc_versions():
            if str(version) == SOLC_VERSION:
                return Path(solcx.install.get_executable(version))
    except Exception:  # py-solc-x is optional at run time
        pass
    found = shutil.which("solc")
    if found and not _is_solc_select_shim(Path(found)):
        try:
            out = subprocess.run(
                [found, "--version"], capture_output=True, text=True, check=False, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if f"Version: {SOLC_VERSION}+" in out.stdout:
            return Path(found)
    return None


def _is_solc_select_shim(path: Path) -> bool:
    """Whether `path` is solc-select's `solc` (installed with Slither), which downloads compilers:
    never run it, not even for `--version`."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and b"solc_select" in head


# A directory of earlier outputs, by input and compiler, when set: the test suite's runs compile
# the same sources again and again (every `allmende verify` does). Never set for a release build
# or an auditor's verification, which compile afresh.
CACHE_ENV = "ALLMENDE_COMPILER_CACHE"


def run_compiler(compiler_input: dict[str, Any], root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Run the pinned compiler (native solc when installed, else solc-js through node).

    With `ALLMENDE_COMPILER_CACHE` set, an output is kept there under the hash of the input and
    the compiler's identity, and read back for the same pair (solc is deterministic)."""
    native = _native_solc()
    cache = os.environ.get(CACHE_ENV)
    if not cache:
        return _compile(compiler_input, native, root)
    identity = f"native {SOLC_VERSION} {native}" if native else _solc_js_identity(root)
    text = json.dumps(compiler_input, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(f"{identity}\n{text}".encode()).hexdigest()
    path = Path(cache) / f"{key}.json"
    if path.is_file():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    output = _compile(compiler_input, native, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{key}.{os.getpid()}.part")
    partial.write_text(json.dumps(output), encoding="utf-8")
    partial.replace(path)  # atomic: a concurrent reader sees the whole output or none
    return output


def _solc_js_identity(root: Path) -> str:
    package = root / "node_modules" / "solc" / "package.json"
    try:
        return "solc-js " + hashlib.sha256(package.read_bytes()).hexdigest()
    except OSError:
        return "solc-js missing"


def _compile(compiler_input: dict[str, Any], native: Path | None, root: Path) -> dict[str, Any]:
    if native is not None:
        import solcx

        return dict(solcx.compile_standard(compiler_input, solc_binary=native))
    node = shutil.which("node")
    if node is None:
        raise CompilationError("neither a native solc nor node (for solc-js) is installed")
    proc = subprocess.run(
        [node, str(root / "scripts" / "solc_standard_json.js")],
        input=json.dumps(compiler_input),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompilationError(f"solc-js failed: {proc.stderr.strip()}")
    output: dict[str, Any] = json.loads(proc.stdout)
    return output


def compile_contracts(root: Path = PROJECT_ROOT) -> tuple[dict[str, CompiledContract], dict[str, Any]]:
    """Compile the project's contracts; returns the deployable contracts and the build info."""
    sources = collect_sources(root)
    compiler_input = standard_input(sources)
    output = run_compiler(compiler_input, root)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilationError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    contracts: dict[str, CompiledContract] = {}
    for unit, by_name in output["contracts"].items():
        if not unit.startswith(CONTRACTS_DIR + "/") or "/libraries/" in unit:
            continue
        for name, data in by_name.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces and abstract contracts
                continue
            contracts[name] = CompiledContract(
                name=name,
                source=unit,
                abi=data["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                userdoc=data.get("userdoc", {}),
            )
    build_info = {
        "compiler": f"solc {SOLC_VERSION}",
        "settings": compiler_input["settings"],
        "inputSha256": _sha256(json.dumps(compiler_input, sort_keys=True)),
        "sources": {name: _sha256(text) for name, text in sources.items()},
    }
    return contracts, build_info


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def artifact_json(contract: CompiledContract, build_info: dict[str, Any]) -> dict[str, Any]:
    """The committed artifact of one contract."""
    return {
        "contractName": contract.name,
        "sourceName": contract.source,
        "compiler": build_info["compiler"],
        "evmVersion": EVM_VERSION,
        "sourceSha256": build_info["sources"][contract.source],
        "abi": contract.abi,
        "bytecode": contract.bytecode,
        "deployedBytecode": contract.deployed_bytecode,
        "userdoc": contract.userdoc,
    }


def render_artifacts(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """File name -> exact file text of every artifact the sources produce."""
    contracts, build_info = compile_contracts(root)
    files = {f"{c.name}.json": _dump(artifact_json(c, build_info)) for c in contracts.values()}
    files["build-info.json"] = _dump(build_info)
    return files


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_artifacts(root: Path = PROJECT_ROOT, out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Compile and (re)write the artifacts directory; returns the files written."""
    files = render_artifacts(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True)
class ReferenceCode:
    """A contract's runtime code as the pinned compiler builds it from the sources, and where its
    immutables go (`evm.deployedBytecode.immutableReferences`)."""

    name: str
    runtime: bytes
    immutables: dict[str, list[dict[str, int]]]


def reference_build(root: Path = PROJECT_ROOT) -> dict[str, ReferenceCode]:
    """Compile the sources under `root` afresh, as the committed artifacts were, with immutables' places.

    The output selection does not enter the bytecode or its metadata, so this build is the one the
    artifacts hold; an auditor runs it from a checkout of the release's sources.
    """
    compiler_input = standard_input(collect_sources(root))
    compiler_input["settings"]["outputSelection"] = {
        "*": {"*": ["evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"]}
    }
    output = run_compiler(compiler_input, root)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompilationError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    built: dict[str, ReferenceCode] = {}
    for unit, by_name in output["contracts"].items():
        if not unit.startswith(CONTRACTS_DIR + "/"):
            continue
        for name, data in by_name.items():
            deployed = data["evm"]["deployedBytecode"]
            if deployed["object"]:
                built[name] = ReferenceCode(
                    name, bytes.fromhex(deployed["object"]), deployed.get("immutableReferences", {})
                )
    return built
