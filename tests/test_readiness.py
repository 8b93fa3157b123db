"""Readiness for publishing: what HACS, hassfest and the Supervisor demand of this repository.

Each rule is a checking function that takes the data and returns the problems it finds (an empty
list: ready). The tests run every check on the real files and on mutated copies, so the suite
proves that each rule can fail.

The rules come from:
- HACS: https://hacs.xyz/docs/publish/start and /docs/publish/integration, and HACS's own schema
  for hacs.json (custom_components/hacs/utils/validate.py, HACS_MANIFEST_JSON_SCHEMA);
- hassfest (script/hassfest in home-assistant/core): manifest.py (CUSTOM_INTEGRATION_MANIFEST_SCHEMA
  and the key order), dependencies.py, services.py (CUSTOM_INTEGRATION_SERVICES_SCHEMA), icons.py,
  quality_scale.py (the rules and the file's format);
- Home Assistant itself, as installed: its loader, its selectors, its service descriptions, its
  list of integrations and of countries, its pinned requirements;
- the Supervisor's add-on repository layout.

The rest of the readiness suite lives elsewhere (one place per check):
- tests/test_translations.py: strings.json == translations/en.json, ko.json with the same keys and
  placeholders, hassfest's rules for translated strings, every error and flow field described;
- tests/test_blueprints.py::test_blueprints_load: every blueprint loaded and validated by Home
  Assistant's blueprint loader;
- vision_addon/tests/test_addon.py: addons/*/config.yaml and build.yaml against the add-on
  linter's JSON schemas (vision_addon/tests/data/addon-linter) and its other rules. That needs
  jsonschema, which the vision add-on's environment has and Home Assistant's has not (on purpose:
  it is no requirement of the integration), so this module checks the repository-level add-on
  rules that need no schema. scripts/test runs both suites.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
import copy
from dataclasses import dataclass, field, replace
import importlib.metadata
import json
from pathlib import Path
import re
import shutil
import sys
import tomllib
import typing
from typing import Any, Final

from awesomeversion import AwesomeVersion, AwesomeVersionException, AwesomeVersionStrategy
from homeassistant.const import Platform, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.generated.countries import COUNTRIES
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
import homeassistant.loader
from homeassistant.loader import async_get_integration
from homeassistant.util.yaml import load_yaml_dict
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
from voluptuous.humanize import humanize_error
import yaml

from custom_components.careon.const import DOMAIN

ROOT: Final = Path(__file__).resolve().parent.parent
INTEGRATION: Final = ROOT / "custom_components" / DOMAIN
BLUEPRINTS: Final = ROOT / "blueprints"
HA_PACKAGE: Final = Path(homeassistant.loader.__file__).parent
HA_COMPONENTS: Final = HA_PACKAGE / "components"
STRICT_VERSIONS: Final = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _schema_problems(schema: Callable[[Any], Any], data: Any) -> list[str]:
    try:
        schema(data)
    except vol.Invalid as err:
        return [humanize_error(data, err)]
    return []


# Home Assistant 2026.11 validates with probatio, which it installs as `voluptuous` (hassfest's
# schemas too); 2025.x with voluptuous. The rules are the same; the words differ. A mistake is
# expected in the words of the Home Assistant under test.
PROBATIO: Final = vol.__name__.split(".")[0] == "probatio"


def _invalid(voluptuous: str, probatio: str) -> str:
    """The schema engine's message for one mistake: voluptuous's words or probatio's."""
    return probatio if PROBATIO else voluptuous


def _valid_version(value: str) -> bool:
    try:
        AwesomeVersion(value, ensure_strategy=STRICT_VERSIONS)
    except AwesomeVersionException:
        return False
    return True


def _pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by canonical name."""
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


# The tests run on two Home Assistants, each pinned in its own file (scripts/setup): the oldest
# one CareOn supports (requirements_test.txt) and the current one (requirements_test_current.txt).
OLDEST_REQUIREMENTS: Final = "requirements_test.txt"
CURRENT_REQUIREMENTS: Final = "requirements_test_current.txt"
# What hacs.json may ask for at most: the oldest Home Assistant the tests run.
PINNED_HA: Final = _pins((ROOT / OLDEST_REQUIREMENTS).read_text(encoding="utf-8"))["homeassistant"]
# The pins of the environment under test: the file that pins the running Home Assistant.
TESTED_REQUIREMENTS: Final = next(
    (
        name
        for name in (OLDEST_REQUIREMENTS, CURRENT_REQUIREMENTS)
        if _pins((ROOT / name).read_text(encoding="utf-8")).get("homeassistant") == HA_VERSION
    ),
    OLDEST_REQUIREMENTS,
)
TEST_PINS: Final = _pins((ROOT / TESTED_REQUIREMENTS).read_text(encoding="utf-8"))


# --- repository layout (HACS) --------------------------------------------------------------------


def check_repository_layout(root: Path) -> list[str]:
    """HACS's layout of an integration repository, plus the add-on store's repository.yaml."""
    problems = [
        f"{name} is missing" for name in ("hacs.json", "README.md") if not (root / name).is_file()
    ]
    components = root / "custom_components"
    integrations = sorted(
        path.name for path in components.glob("*") if path.is_dir() and path.name != "__pycache__"
    )
    if len(integrations) != 1:
        problems.append(
            f"custom_components/ must hold exactly one integration, it holds {integrations}"
        )
    for name in integrations:
        problems.extend(
            f"custom_components/{name}/{file} is missing"
            for file in ("manifest.json", "__init__.py")
            if not (components / name / file).is_file()
        )
    # content_in_root is not set: nothing of the integration may sit at the root
    problems.extend(
        f"{file} at the repository root (the integration belongs under custom_components/)"
        for file in ("manifest.json", "__init__.py")
        if (root / file).exists()
    )
    if (root / "addons").is_dir() and not (root / "repository.yaml").is_file():
        problems.append(
            "addons/ without repository.yaml: the add-on store cannot add this repository"
        )
    return problems


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    """The files of the repository's layout, copied (the add-ons without their Dockerfiles)."""
    copy_root = tmp_path / "repository"
    copy_root.mkdir()
    for name in ("hacs.json", "README.md", "repository.yaml"):
        shutil.copy(ROOT / name, copy_root / name)
    shutil.copytree(
        INTEGRATION,
        copy_root / "custom_components" / DOMAIN,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        ROOT / "addons", copy_root / "addons", ignore=shutil.ignore_patterns("Dockerfile*")
    )
    return copy_root


def test_repository_layout() -> None:
    assert check_repository_layout(ROOT) == []


def test_repository_layout_check_catches_mistakes(repository_copy: Path) -> None:
    assert check_repository_layout(repository_copy) == []

    (repository_copy / "custom_components" / "other").mkdir()
    (repository_copy / "README.md").unlink()
    (repository_copy / "repository.yaml").unlink()
    (repository_copy / "custom_components" / DOMAIN / "manifest.json").rename(
        repository_copy / "manifest.json"
    )
    assert check_repository_layout(repository_copy) == [
        "README.md is missing",
        "custom_components/ must hold exactly one integration, it holds ['careon', 'other']",
        "custom_components/careon/manifest.json is missing",
        "custom_components/other/manifest.json is missing",
        "custom_components/other/__init__.py is missing",
        "manifest.json at the repository root (the integration belongs under custom_components/)",
        "addons/ without repository.yaml: the add-on store cannot add this repository",
    ]


# --- hacs.json -----------------------------------------------------------------------------------


def _country(value: Any) -> Any:
    countries = [value] if isinstance(value, str) else value
    if not isinstance(countries, list) or not countries:
        raise vol.Invalid("country: an ISO 3166-1 alpha-2 code or a list of them")
    for country in countries:
        if country not in COUNTRIES:
            raise vol.Invalid(f"country: {country!r} is no ISO 3166-1 alpha-2 code")
    return value


def _version(value: Any) -> str:
    if not isinstance(value, str) or not _valid_version(value):
        raise vol.Invalid(f"{value!r} is not a valid version")
    return value


# HACS_MANIFEST_JSON_SCHEMA (hacs/integration, custom_components/hacs/utils/validate.py), with
# the versions and the country checked as the docs describe them.
HACS_SCHEMA: Final = vol.Schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Optional("content_in_root"): bool,
        vol.Optional("zip_release"): bool,
        vol.Optional("filename"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("country"): _country,
        vol.Optional("homeassistant"): _version,
        vol.Optional("hacs"): _version,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
    },
    extra=vol.PREVENT_EXTRA,
)

# What the integration's code needs of Home Assistant: (pattern in its Python source, the first
# release that has it, what it is).
CODE_NEEDS: Final = (
    (r"\bConfigSubentryFlow\b", "2025.3.0", "config subentries (ConfigSubentryFlow)"),
    (
        r"\bself\._get_entry\(\)",
        "2025.4.0",
        "ConfigSubentryFlow._get_entry (home-assistant/core#141017)",
    ),
)


def needed_ha_version(integration: Path, blueprints: Path) -> tuple[AwesomeVersion, str]:
    """The oldest Home Assistant the integration's code and blueprints work with, and why."""
    needed, reason = AwesomeVersion("0.0.0"), "nothing"
    for path in sorted(blueprints.rglob("*.yaml")):
        min_version = (
            (load_yaml_dict(str(path)).get("blueprint") or {})
            .get("homeassistant", {})
            .get("min_version")
        )
        if min_version and AwesomeVersion(min_version) > needed:
            needed, reason = AwesomeVersion(min_version), f"{path.name}'s min_version"
    source = "\n".join(path.read_text(encoding="utf-8") for path in integration.rglob("*.py"))
    for pattern, version, what in CODE_NEEDS:
        if re.search(pattern, source) and AwesomeVersion(version) > needed:
            needed, reason = AwesomeVersion(version), what
    return needed, reason


def check_hacs_json(
    data: Any, *, pinned_ha: str, needed_ha: tuple[AwesomeVersion, str]
) -> list[str]:
    """hacs.json against HACS's rules for an integration repository."""
    problems = _schema_problems(HACS_SCHEMA, data)
    if not isinstance(data, dict):
        return problems
    if data.get("zip_release") and not data.get("filename"):
        problems.append("zip_release needs filename")
    if data.get("content_in_root"):
        problems.append("content_in_root: the integration lives under custom_components/")
    minimum = data.get("homeassistant")
    if minimum is None:
        problems.append("homeassistant: say which Home Assistant the integration needs")
    elif isinstance(minimum, str) and _valid_version(minimum):
        if AwesomeVersion(minimum) > AwesomeVersion(pinned_ha):
            problems.append(
                f"homeassistant {minimum} is newer than the Home Assistant the tests run "
                f"({pinned_ha}, requirements_test.txt)"
            )
        version, reason = needed_ha
        if AwesomeVersion(minimum) < version:
            problems.append(f"homeassistant {minimum} is older than {version}, needed for {reason}")
    return problems


def test_hacs_json() -> None:
    # the tests run a Home Assistant that requirements_test.txt or requirements_test_current.txt pins
    assert TEST_PINS["homeassistant"] == HA_VERSION
    needed = needed_ha_version(INTEGRATION, BLUEPRINTS)
    assert needed == (AwesomeVersion("2025.4.0"), CODE_NEEDS[1][2])
    assert check_hacs_json(_json(ROOT / "hacs.json"), pinned_ha=PINNED_HA, needed_ha=needed) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"name": None},
            _invalid(
                "required key not provided @ data['name']", "required key not provided at 'name'"
            ),
        ),
        (
            {"name": ["CareOn"]},
            _invalid("expected str for dictionary value @ data['name']", "expected str at 'name'"),
        ),
        (
            {"domains": ["sensor"]},
            _invalid("extra keys not allowed @ data['domains']", "not a valid option at 'domains'"),
        ),
        ({"country": "XX"}, "country: 'XX' is no ISO 3166-1 alpha-2 code"),
        ({"country": "kr"}, "country: 'kr' is no ISO 3166-1 alpha-2 code"),
        (
            {"render_readme": "yes"},
            _invalid(
                "expected bool for dictionary value @ data['render_readme']",
                "expected bool at 'render_readme'",
            ),
        ),
        ({"zip_release": True}, "zip_release needs filename"),
        ({"homeassistant": "soon"}, "'soon' is not a valid version"),
        ({"homeassistant": None}, "homeassistant: say which Home Assistant the integration needs"),
        (
            {"homeassistant": "2025.5.0"},
            "homeassistant 2025.5.0 is newer than the Home Assistant the tests run (2025.4.4, "
            "requirements_test.txt)",
        ),
        (
            {"homeassistant": "2025.3.2"},
            "homeassistant 2025.3.2 is older than 2025.4.0, needed for ConfigSubentryFlow._get_entry "
            "(home-assistant/core#141017)",
        ),
    ],
)
def test_hacs_json_check_catches_mistakes(change: dict[str, Any], problem: str) -> None:
    data = {**_json(ROOT / "hacs.json"), **change}
    data = {key: value for key, value in data.items() if value is not None}
    needed = needed_ha_version(INTEGRATION, BLUEPRINTS)
    assert any(
        problem in found for found in check_hacs_json(data, pinned_ha=PINNED_HA, needed_ha=needed)
    ), check_hacs_json(data, pinned_ha=PINNED_HA, needed_ha=needed)


def test_needed_version_follows_the_code(tmp_path: Path) -> None:
    """Without the 2025.4 API the integration would need what its blueprints need."""
    plain = tmp_path / "careon"
    plain.mkdir()
    (plain / "config_flow.py").write_text("class Flow(ConfigSubentryFlow): ...\n", encoding="utf-8")
    assert needed_ha_version(plain, BLUEPRINTS)[0] == AwesomeVersion("2025.3.0")
    (plain / "config_flow.py").write_text("", encoding="utf-8")
    assert needed_ha_version(plain, BLUEPRINTS) == (
        AwesomeVersion("2024.10.0"),
        "auto_reorder.yaml's min_version",
    )


# --- manifest.json (hassfest, HACS, Home Assistant's loader) -------------------------------------

INTEGRATION_TYPES: Final = [
    value
    for value in typing.get_args(
        typing.get_type_hints(homeassistant.loader.Manifest)["integration_type"]
    )
    if value != "virtual"
]
IOT_CLASSES: Final = [
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
]
QUALITY_SCALES: Final = [
    "bronze", "silver", "gold", "platinum", "custom", "no_score", "internal", "legacy",
]  # fmt: skip
GITHUB_HANDLE: Final = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9_.-]+)?$")


def _custom_documentation_url(value: str) -> str:
    if not value.startswith("https://"):
        raise vol.Invalid("documentation url is not prefixed with https")
    if value.startswith("https://www.home-assistant.io/integrations"):
        raise vol.Invalid("documentation url should point to the custom integration's docs")
    return value


# hassfest's CUSTOM_INTEGRATION_MANIFEST_SCHEMA, with what HACS and Home Assistant's loader
# require of a custom integration made required (version, issue_tracker, iot_class) and
# integration_type too (hassfest assumes "hub" when it is missing).
MANIFEST_SCHEMA: Final = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Required("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Optional("config_flow"): bool,
        vol.Optional("mqtt"): [str],
        vol.Optional("zeroconf"): list,
        vol.Optional("ssdp"): list,
        vol.Optional("bluetooth"): list,
        vol.Optional("homekit"): dict,
        vol.Optional("dhcp"): list,
        vol.Optional("usb"): list,
        vol.Required("documentation"): vol.All(vol.Url(), _custom_documentation_url),
        vol.Required("issue_tracker"): vol.Url(),
        vol.Optional("quality_scale"): vol.In(QUALITY_SCALES),
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [str],
        vol.Optional("loggers"): [str],
        vol.Optional("disabled"): str,
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("single_config_entry"): bool,
        vol.Required("version"): vol.All(str, _version),
        vol.Optional("import_executor"): bool,
    }
)


def check_manifest(data: Any, *, folder: Path, components: Path = HA_COMPONENTS) -> list[str]:
    """manifest.json against hassfest's and HACS's rules for a custom integration."""
    problems = _schema_problems(MANIFEST_SCHEMA, data)
    if not isinstance(data, dict):
        return problems
    keys = list(data)
    expected_order = [key for key in ("domain", "name") if key in data]
    expected_order += sorted(key for key in keys if key not in ("domain", "name"))
    if keys != expected_order:
        problems.append(f"keys are not sorted (domain, name, then alphabetical): {keys}")
    domain = data.get("domain")
    if domain != folder.name:
        problems.append(f"domain {domain!r} does not match its folder {folder.name!r}")
    if isinstance(domain, str) and (components / domain).is_dir():
        problems.append(f"domain {domain!r} collides with a built-in integration")
    owners = data.get("codeowners") or []
    if not owners:
        problems.append("codeowners: name at least one GitHub handle")
    problems.extend(
        f"codeowner {owner!r} is not a GitHub handle (@user or @org/team)"
        for owner in owners
        if not GITHUB_HANDLE.match(str(owner))
    )
    has_flow = (folder / "config_flow.py").is_file()
    if data.get("config_flow") is True and not has_flow:
        problems.append("config_flow is true but config_flow.py is missing")
    if has_flow and data.get("config_flow") is not True:
        problems.append("config_flow.py exists but config_flow is not true")
    dependencies = data.get("dependencies") or []
    after = data.get("after_dependencies") or []
    for kind, names in (("dependencies", dependencies), ("after_dependencies", after)):
        for name in names:
            if name == domain:
                problems.append(f"{kind}: {name} depends on itself")
            elif not (components / name / "manifest.json").is_file():
                problems.append(f"{kind}: {name} is no Home Assistant integration")
    problems.extend(
        f"{name} is both in dependencies and after_dependencies"
        for name in sorted(set(dependencies) & set(after))
    )
    return problems


def _hassfest_order(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's keys in hassfest's order (so a mutation tests one rule only)."""
    first = [key for key in ("domain", "name") if key in manifest]
    return {key: manifest[key] for key in [*first, *sorted(set(manifest) - set(first))]}


def test_manifest() -> None:
    # every key the schema allows is one Home Assistant's loader knows
    known = set(typing.get_type_hints(homeassistant.loader.Manifest))
    assert {str(key) for key in MANIFEST_SCHEMA.schema} <= known
    assert check_manifest(_json(INTEGRATION / "manifest.json"), folder=INTEGRATION) == []


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (
            lambda m: m.pop("version"),
            _invalid(
                "required key not provided @ data['version']",
                "required key not provided at 'version'",
            ),
        ),
        (lambda m: m.update(version="next"), "'next' is not a valid version"),
        (
            lambda m: m.pop("issue_tracker"),
            _invalid(
                "required key not provided @ data['issue_tracker']",
                "required key not provided at 'issue_tracker'",
            ),
        ),
        (lambda m: m.update(iot_class="polling"), "value must be one of"),
        (lambda m: m.update(integration_type="integration"), "value must be one of"),
        (
            lambda m: m.update(icon="mdi:store"),
            _invalid("extra keys not allowed @ data['icon']", "not a valid option at 'icon'"),
        ),
        (
            lambda m: m.update(documentation="https://www.home-assistant.io/integrations/careon"),
            "documentation url should point to the custom integration's docs",
        ),
        (lambda m: m.update(domain="care_on"), "domain 'care_on' does not match its folder"),
        (lambda m: m.update(codeowners=[]), "codeowners: name at least one GitHub handle"),
        (lambda m: m.update(codeowners=["careon-dev"]), "'careon-dev' is not a GitHub handle"),
        (lambda m: m.update(config_flow=False), "config_flow.py exists but config_flow is not"),
        (lambda m: m.update(dependencies=["webhooks"]), "dependencies: webhooks is no Home"),
        (lambda m: m.update(dependencies=["careon"]), "dependencies: careon depends on itself"),
        (
            lambda m: m.update(after_dependencies=["webhook"]),
            "webhook is both in dependencies and after_dependencies",
        ),
    ],
)
def test_manifest_check_catches_mistakes(
    mutate: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    mutate(manifest)
    problems = check_manifest(_hassfest_order(manifest), folder=INTEGRATION)
    assert any(problem in found for found in problems), problems


def test_manifest_check_catches_unsorted_keys_and_a_core_domain(tmp_path: Path) -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    unsorted = {"name": manifest["name"], **manifest}
    assert check_manifest(unsorted, folder=INTEGRATION) == [
        "keys are not sorted (domain, name, then alphabetical): "
        f"{['name', *[key for key in manifest if key != 'name']]}"
    ]
    moved = {"domain": "mqtt", **{k: v for k, v in manifest.items() if k != "domain"}}
    folder = tmp_path / "mqtt"
    folder.mkdir()
    (folder / "config_flow.py").touch()
    assert check_manifest(moved, folder=folder) == [
        "domain 'mqtt' collides with a built-in integration"
    ]
    flowless = tmp_path / "careon"
    flowless.mkdir()
    assert check_manifest(manifest, folder=flowless) == [
        "config_flow is true but config_flow.py is missing"
    ]


# Components any integration may import without naming them (hassfest's dependencies.py,
# ALLOWED_USED_COMPONENTS): the entity platforms and a few internal integrations.
ALLOWED_USED_COMPONENTS: Final = {
    *(platform.value for platform in Platform),
    "alert", "automation", "conversation", "default_config", "device_automation", "frontend",
    "group", "homeassistant", "input_boolean", "input_button", "input_datetime", "input_number",
    "input_select", "input_text", "media_source", "onboarding", "panel_custom",
    "persistent_notification", "person", "script", "shopping_list", "sun", "system_health",
    "system_log", "timer", "webhook", "websocket_api", "zone", "mjpeg", "stream",
}  # fmt: skip


class _Imports(ast.NodeVisitor):
    """The modules a file imports (outside ``if TYPE_CHECKING:`` blocks), absolute ones only."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.names: set[str] = set()  # "homeassistant.components.X" for "from ... import X"

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.modules.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or node.module is None:
            return
        self.modules.add(node.module)
        if node.module == "homeassistant.components":
            self.names.update(f"homeassistant.components.{alias.name}" for alias in node.names)


def _imports(sources: Mapping[str, str]) -> set[str]:
    modules: set[str] = set()
    for text in sources.values():
        collector = _Imports()
        collector.visit(ast.parse(text))
        modules |= collector.modules | collector.names
    return modules


def check_component_imports(sources: Mapping[str, str], manifest: Mapping[str, Any]) -> list[str]:
    """Every Home Assistant integration the code imports is a (after_)dependency (hassfest)."""
    allowed = (
        ALLOWED_USED_COMPONENTS
        | set(manifest.get("dependencies", []))
        | set(manifest.get("after_dependencies", []))
        | {Path(name).stem for name in sources}  # platforms of other integrations it provides
    )
    used = {
        module.split(".")[2]
        for module in _imports(sources)
        if module.startswith("homeassistant.components.")
    }
    return [
        f"uses component {name} but it is not in dependencies or after_dependencies"
        for name in sorted(used - allowed)
    ]


def _sources(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.py"))
    }


def test_component_imports() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    assert check_component_imports(_sources(INTEGRATION), manifest) == []


def test_component_imports_check_catches_mistakes() -> None:
    sources = {
        **_sources(INTEGRATION),
        "extra.py": "from homeassistant.components import mqtt\n"
        "import homeassistant.components.recorder\n"
        "if TYPE_CHECKING:\n    from homeassistant.components.cloud import Cloud\n",
    }
    assert check_component_imports(sources, {"dependencies": ["webhook"]}) == [
        "uses component mqtt but it is not in dependencies or after_dependencies",
        "uses component recorder but it is not in dependencies or after_dependencies",
    ]
    assert check_component_imports(sources, {"after_dependencies": ["mqtt", "recorder"]}) == []


def _ha_requirements() -> dict[str, list[str]]:
    """What Home Assistant itself installs or constrains: canonical name -> its specifiers."""
    found: dict[str, list[str]] = {}
    lines = importlib.metadata.requires("homeassistant") or []
    lines += (HA_PACKAGE / "package_constraints.txt").read_text(encoding="utf-8").splitlines()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate():
            found.setdefault(canonicalize_name(requirement.name), []).append(
                str(requirement.specifier)
            )
    for manifest_path in HA_COMPONENTS.glob("*/manifest.json"):
        for line in _json(manifest_path).get("requirements", []):
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            found.setdefault(canonicalize_name(requirement.name), []).append(
                f"{requirement.specifier} ({manifest_path.parent.name})"
            )
    return found


HA_REQUIREMENTS: Final = _ha_requirements()


def check_requirements(
    requirements: Iterable[str],
    *,
    pins: Mapping[str, str],
    ha_requirements: Mapping[str, list[str]],
    installed: Callable[[str], str] = importlib.metadata.version,
) -> list[str]:
    """manifest.json's requirements: pinned, pinned as the tests are, compatible with HA."""
    problems: list[str] = []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"requirement {line!r} is not a valid requirement")
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==" or requirement.extras:
            problems.append(f"requirement {line!r} is not pinned with ==")
            continue
        name, version = canonicalize_name(requirement.name), specifiers[0].version
        if pins.get(name) != version:
            problems.append(
                f"requirement {line!r} is not what {TESTED_REQUIREMENTS} pins "
                f"({pins.get(name, 'nothing')})"
            )
        try:
            if installed(requirement.name) != version:
                problems.append(
                    f"requirement {line!r}: the tests run {requirement.name} "
                    f"{installed(requirement.name)}"
                )
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"requirement {line!r} is not installed for the tests")
        for specifier in ha_requirements.get(name, []):
            if not Requirement(f"{name}{specifier.split(' ')[0]}").specifier.contains(version):
                problems.append(
                    f"requirement {line!r} conflicts with Home Assistant's {name}{specifier}"
                )
    return problems


def check_third_party_imports(
    sources: Mapping[str, str],
    requirements: Iterable[str],
    ha_requirements: Mapping[str, list[str]],
) -> list[str]:
    """Every third-party module the code imports is a requirement or comes with Home Assistant
    (dependency transparency)."""
    declared = {canonicalize_name(Requirement(line).name) for line in requirements}
    distributions = importlib.metadata.packages_distributions()
    problems: list[str] = []
    for top in sorted({module.split(".")[0] for module in _imports(sources)}):
        if top in sys.stdlib_module_names or top in ("homeassistant", DOMAIN, "custom_components"):
            continue
        # What the import gives: Home Assistant 2026.11 makes `import voluptuous` give probatio
        # (one of its requirements), whatever else has a `voluptuous` distribution installed.
        module = sys.modules.get(top)
        provider = module.__name__.split(".")[0] if module is not None else top
        names = {canonicalize_name(name) for name in distributions.get(provider, [provider])}
        if not names & (declared | set(ha_requirements)):
            problems.append(f"imports {top} but no requirement provides it")
    return problems


def test_requirements() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    assert (
        check_requirements(
            manifest["requirements"], pins=TEST_PINS, ha_requirements=HA_REQUIREMENTS
        )
        == []
    )
    assert (
        check_third_party_imports(_sources(INTEGRATION), manifest["requirements"], HA_REQUIREMENTS)
        == []
    )


def test_requirements_check_catches_mistakes() -> None:
    pins = {**TEST_PINS, "openpyxl": "3.1.4"}
    assert check_requirements(
        [
            "openpyxl>=3.1",
            "openpyxl==3.1.5",
            "asyncpg[sa]==0.30.0",
            "SQLAlchemy==2.0.38",
            "careon-missing==1.0",
            "not a requirement!",
        ],
        pins={**pins, "sqlalchemy": "2.0.38", "careon-missing": "1.0"},
        ha_requirements={**HA_REQUIREMENTS, "sqlalchemy": ["==2.0.39"]},
        installed=lambda name: "2.0.38"
        if name == "SQLAlchemy"
        else importlib.metadata.version(name),
    ) == [
        "requirement 'openpyxl>=3.1' is not pinned with ==",
        f"requirement 'openpyxl==3.1.5' is not what {TESTED_REQUIREMENTS} pins (3.1.4)",
        "requirement 'asyncpg[sa]==0.30.0' is not pinned with ==",
        "requirement 'SQLAlchemy==2.0.38' conflicts with Home Assistant's sqlalchemy==2.0.39",
        "requirement 'careon-missing==1.0' is not installed for the tests",
        "requirement 'not a requirement!' is not a valid requirement",
    ]
    manifest = _json(INTEGRATION / "manifest.json")
    without_openpyxl = [line for line in manifest["requirements"] if "openpyxl" not in line]
    assert check_third_party_imports(_sources(INTEGRATION), without_openpyxl, HA_REQUIREMENTS) == [
        "imports openpyxl but no requirement provides it"
    ]


# --- quality_scale.yaml ----------------------------------------------------------------------------

# The integration quality scale's rules by tier (hassfest's quality_scale.py, ALL_RULES).
QUALITY_RULES: Final = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions",
        "docs-high-level-description", "docs-installation-instructions",
        "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
        "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
        "entity-category", "entity-device-class", "entity-disabled-by-default",
        "entity-translations", "exception-translations", "icon-translations",
        "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip
ALL_RULES: Final = [rule for rules in QUALITY_RULES.values() for rule in rules]
# Rules that may stay "todo", with the reason they cannot be done inside this repository.
ALLOWED_TODO: Final = {
    "brands": "the icon and logo go to home-assistant/brands (custom_integrations/careon)",
}

# hassfest's quality_scale.py SCHEMA: a status, or a status with a comment (required to exempt).
QUALITY_SCALE_SCHEMA: Final = vol.Schema(
    {
        vol.Required("rules"): vol.Schema(
            {
                vol.Optional(rule): vol.Any(
                    vol.In(["todo", "done"]),
                    vol.Schema(
                        {
                            vol.Required("status"): vol.In(["todo", "done"]),
                            vol.Required("comment"): str,
                        }
                    ),
                    vol.Schema({vol.Required("status"): "exempt", vol.Required("comment"): str}),
                )
                for rule in ALL_RULES
            }
        )
    }
)


def _status(value: Any) -> Any:
    return value.get("status") if isinstance(value, dict) else value


def check_quality_scale(data: Any) -> list[str]:
    """quality_scale.yaml: hassfest's format, every rule of every tier, todo only where allowed."""
    problems = _schema_problems(QUALITY_SCALE_SCHEMA, data)
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, dict):
        return problems
    problems.extend(f"rule {rule} is not listed" for rule in ALL_RULES if rule not in rules)
    problems.extend(
        f"rule {rule} is todo (allowed only for {sorted(ALLOWED_TODO)})"
        for rule, value in rules.items()
        if _status(value) == "todo" and rule not in ALLOWED_TODO
    )
    return problems


@dataclass(frozen=True)
class Facts:
    """What the quality-scale evidence checks read about the integration."""

    sources: Mapping[str, str]
    manifest: Mapping[str, Any]
    strings: Mapping[str, Any]
    pyproject: Mapping[str, Any]
    files: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def read(cls) -> Facts:
        return cls(
            sources=_sources(INTEGRATION),
            manifest=_json(INTEGRATION / "manifest.json"),
            strings=_json(INTEGRATION / "strings.json"),
            pyproject=tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8")),
            files=frozenset(str(path.relative_to(INTEGRATION)) for path in INTEGRATION.rglob("*")),
        )

    def source(self, name: str) -> str:
        return self.sources.get(name, "")

    def function(self, module: str, name: str) -> str:
        """The source of a module-level (async) function, or ""."""
        text = self.source(module)
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return ast.get_source_segment(text, node) or ""
        return ""

    def anywhere(self, pattern: str) -> bool:
        return any(re.search(pattern, text) for text in self.sources.values())


PLATFORM_MODULES: Final = {f"{platform.value}.py" for platform in Platform}

# What each rule marked done must show in the code (hassfest's rule validators for core
# integrations, and the rules' own pages, reduced to what can be seen in the files).
EVIDENCE: Final[Mapping[str, tuple[str, Callable[[Facts], bool]]]] = {
    "action-setup": (
        "services registered in async_setup",
        lambda f: "services" in f.function("__init__.py", "async_setup"),
    ),
    "config-flow": (
        "config_flow true in the manifest and config_flow.py",
        lambda f: f.manifest.get("config_flow") is True and "config_flow.py" in f.sources,
    ),
    "config-entry-unloading": (
        "async_unload_entry in __init__.py",
        lambda f: bool(f.function("__init__.py", "async_unload_entry")),
    ),
    "devices": ("DeviceInfo on the entities", lambda f: f.anywhere(r"\bDeviceInfo\(")),
    "diagnostics": (
        "async_get_config_entry_diagnostics in diagnostics.py",
        lambda f: bool(f.function("diagnostics.py", "async_get_config_entry_diagnostics")),
    ),
    "entity-translations": (
        "entity names in strings.json",
        lambda f: bool(f.strings.get("entity")),
    ),
    "entity-unique-id": ("unique ids on the entities", lambda f: f.anywhere(r"_attr_unique_id\b")),
    "exception-translations": (
        "translated exceptions in strings.json, raised with translation keys",
        lambda f: bool(f.strings.get("exceptions")) and f.anywhere(r"translation_key="),
    ),
    "has-entity-name": (
        "_attr_has_entity_name = True",
        lambda f: f.anywhere(r"_attr_has_entity_name = True"),
    ),
    "icon-translations": ("icons.json", lambda f: "icons.json" in f.files),
    "inject-websession": (
        "Home Assistant's shared aiohttp session",
        lambda f: f.anywhere(r"\basync_get_clientsession\("),
    ),
    "integration-owner": (
        "codeowners in the manifest",
        lambda f: bool(f.manifest.get("codeowners")),
    ),
    "parallel-updates": (
        "PARALLEL_UPDATES in every entity platform",
        lambda f: all(
            re.search(r"^PARALLEL_UPDATES\b", text, re.M)
            for name, text in f.sources.items()
            if name in PLATFORM_MODULES
        ),
    ),
    "reauthentication-flow": (
        "async_step_reauth in config_flow.py",
        lambda f: "async def async_step_reauth(" in f.source("config_flow.py"),
    ),
    "reconfiguration-flow": (
        "async_step_reconfigure in config_flow.py",
        lambda f: "async def async_step_reconfigure(" in f.source("config_flow.py"),
    ),
    "repair-issues": ("repair issues raised", lambda f: f.anywhere(r"\basync_create_issue\(")),
    "runtime-data": (
        "entry.runtime_data set in __init__.py",
        lambda f: ".runtime_data =" in f.source("__init__.py"),
    ),  # fmt: skip
    "strict-typing": (
        "mypy strict in pyproject.toml",
        lambda f: f.pyproject.get("tool", {}).get("mypy", {}).get("strict") is True,
    ),
    "test-before-setup": (
        "check in async_setup_entry (ConfigEntryNotReady/AuthFailed/Error, or a first refresh)",
        lambda f: bool(
            re.search(
                r"raise ConfigEntry(NotReady|AuthFailed|Error)\b|async_config_entry_first_refresh\(",
                f.function("__init__.py", "async_setup_entry"),
            )
        ),
    ),
    "unique-config-entry": (
        "unique ids checked in the config flow",
        lambda f: f.manifest.get("single_config_entry") is True
        or "_abort_if_unique_id_configured()" in f.source("config_flow.py"),
    ),
}


def check_quality_scale_evidence(data: Mapping[str, Any], facts: Facts) -> list[str]:
    """Each rule marked done shows in the code."""
    return sorted(
        f"rule {rule} is done but there is no {what}"
        for rule, value in data["rules"].items()
        if _status(value) == "done" and rule in EVIDENCE
        for what, holds in [EVIDENCE[rule]]
        if not holds(facts)
    )


def test_quality_scale() -> None:
    assert check_quality_scale(_yaml(INTEGRATION / "quality_scale.yaml")) == []


def test_quality_scale_evidence() -> None:
    data = _yaml(INTEGRATION / "quality_scale.yaml")
    assert check_quality_scale_evidence(data, Facts.read()) == []


def _complete_quality_scale() -> dict[str, Any]:
    """quality_scale.yaml with any rule it lacks added (exempt), the base of the mutations."""
    data = _yaml(INTEGRATION / "quality_scale.yaml")
    for rule in ALL_RULES:
        data["rules"].setdefault(rule, {"status": "exempt", "comment": "For the test."})
    assert check_quality_scale(data) == []
    return data


def test_quality_scale_check_catches_mistakes() -> None:
    broken = _complete_quality_scale()
    del broken["rules"]["strict-typing"]
    broken["rules"]["has-entity-name"] = "todo"
    broken["rules"]["entity-category"] = "exempt"
    broken["rules"]["devices"] = {"status": "done"}
    broken["rules"]["docs-everything"] = "done"
    problems = check_quality_scale(broken)
    assert problems[1:] == [
        "rule strict-typing is not listed",
        "rule has-entity-name is todo (allowed only for ['brands'])",
    ]
    assert (
        _invalid(
            "extra keys not allowed @ data['rules']['docs-everything']",
            "not a valid option at 'rules.docs-everything'",
        )
        in problems[0]
    )
    assert (
        _invalid("@ data['rules']['entity-category']", "at 'rules.entity-category'") in problems[0]
    )
    assert _invalid("@ data['rules']['devices']", "at 'rules.devices") in problems[0]


def test_quality_scale_evidence_check_catches_mistakes() -> None:
    data = _yaml(INTEGRATION / "quality_scale.yaml")
    facts = Facts.read()
    flow = facts.source("config_flow.py").replace("async_step_reconfigure(", "async_step_other(")
    setup = (  # set up without checking that the store can be reached
        "async def async_setup(hass, config):\n    async_setup_services(hass)\n    return True\n"
        "async def async_setup_entry(hass, entry):\n    entry.runtime_data = None\n"
        "    return True\n"
        "async def async_unload_entry(hass, entry):\n    return True\n"
    )
    sensor = facts.source("sensor.py").replace("PARALLEL_UPDATES", "parallel_updates")
    broken = replace(
        facts,
        sources={
            **facts.sources,
            "config_flow.py": flow,
            "__init__.py": setup,
            "sensor.py": sensor,
        },
        pyproject={"tool": {"mypy": {"strict": False}}},
        files=facts.files - {"icons.json"},
    )
    assert check_quality_scale_evidence(data, broken) == [
        "rule icon-translations is done but there is no icons.json",
        "rule parallel-updates is done but there is no PARALLEL_UPDATES in every entity platform",
        "rule reconfiguration-flow is done but there is no async_step_reconfigure in config_flow.py",
        "rule strict-typing is done but there is no mypy strict in pyproject.toml",
        "rule test-before-setup is done but there is no check in async_setup_entry "
        "(ConfigEntryNotReady/AuthFailed/Error, or a first refresh)",
    ]


# --- services.yaml, its translations and icons ---------------------------------------------------


def _exists(value: Any) -> Any:
    if value is None:
        raise vol.Invalid("value cannot be None")
    return value


# hassfest's services.py for a custom integration (CUSTOM_INTEGRATION_SERVICES_SCHEMA): the top
# level holds service names only (the keys starting with "." that core integrations may use for
# YAML anchors are not accepted there), each field's selector validated by Home Assistant.
_FIELD: Final = vol.Schema(
    {
        vol.Optional("description"): str,
        vol.Optional("name"): str,
        vol.Optional("example"): _exists,
        vol.Optional("default"): _exists,
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
    }
)
_SECTION: Final = vol.Schema(
    {
        vol.Optional("description"): str,
        vol.Optional("name"): str,
        vol.Optional("collapsed"): bool,
        vol.Required("fields"): vol.Schema({str: _FIELD}),
    }
)
_SERVICE: Final = vol.Any(
    vol.Schema(
        {
            vol.Optional("description"): str,
            vol.Optional("name"): str,
            vol.Optional("target"): vol.Any(selector.TargetSelector.CONFIG_SCHEMA, None),
            vol.Optional("fields"): vol.Schema({str: vol.Any(_FIELD, _SECTION)}),
        }
    ),
    None,
)
SERVICES_SCHEMA: Final = vol.Schema({cv.slug: _SERVICE})


def _runtime_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """services.yaml as Home Assistant reads it at run time (keys starting with "." dropped)."""
    return {name: body for name, body in data.items() if not name.startswith(".")}


def _fields(body: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A service's fields, those in sections included."""
    found: dict[str, dict[str, Any]] = {}
    for name, spec in ((body or {}).get("fields") or {}).items():
        if "fields" in spec:
            found.update(spec["fields"])
        else:
            found[name] = spec
    return found


def check_services_yaml(data: Any) -> list[str]:
    """services.yaml against hassfest's schema; defaults pass their own selectors."""
    problems = _schema_problems(SERVICES_SCHEMA, data)
    for service, body in _runtime_view(data).items():
        for name, spec in _fields(body).items():
            if "selector" not in spec:
                problems.append(f"{service}.{name} has no selector")
            elif "default" in spec:
                try:
                    validate = typing.cast(
                        Callable[[Any], Any], selector.selector(spec["selector"])
                    )
                    validate(spec["default"])
                except vol.Invalid as err:
                    problems.append(
                        f"{service}.{name}: default {spec['default']!r} is invalid ({err})"
                    )
    return problems


def check_services_translated(services: Mapping[str, Any], strings: Mapping[str, Any]) -> list[str]:
    """Every service and field has a name and a description in the translations, nothing more;
    every select option of a translated selector is translated."""
    problems: list[str] = []
    translated = strings.get("services", {})
    for service, body in services.items():
        text = translated.get(service, {})
        problems.extend(
            f"service {service} has no {key}"
            for key in ("name", "description")
            if not text.get(key)
        )
        fields = _fields(body)
        for name in fields:
            field_text = text.get("fields", {}).get(name, {})
            problems.extend(
                f"field {service}.{name} has no {key}"
                for key in ("name", "description")
                if not field_text.get(key)
            )
        problems.extend(
            f"translation of field {service}.{name}, which does not exist"
            for name in text.get("fields", {})
            if name not in fields
        )
        for name, spec in fields.items():
            select = (spec.get("selector") or {}).get("select") or {}
            if key := select.get("translation_key"):
                options = strings.get("selector", {}).get(key, {}).get("options", {})
                problems.extend(
                    f"{service}.{name}: option {option!r} of selector {key} is not translated"
                    for option in select.get("options", [])
                    if not options.get(option if isinstance(option, str) else option["value"])
                )
    problems.extend(
        f"translation of service {service}, which does not exist"
        for service in translated
        if service not in services
    )
    return problems


def _services() -> dict[str, Any]:
    return _runtime_view(load_yaml_dict(str(INTEGRATION / "services.yaml")))


def test_services_yaml_passes_hassfest() -> None:
    """hassfest's schema for a custom integration: service names only at the top level (shared
    fields as anchors where first used, not under "." keys), valid selectors and defaults."""
    assert check_services_yaml(load_yaml_dict(str(INTEGRATION / "services.yaml"))) == []


def test_services_yaml_check_catches_mistakes() -> None:
    services = _services()
    assert check_services_yaml(services) == []
    broken = copy.deepcopy(services)
    broken[".shared"] = {"selector": {"text": None}}
    broken["place_order"]["fields"]["channel"]["default"] = "drive_through"
    broken["place_order"]["fields"]["total"]["selector"] = {"number": {"mode": "dial"}}
    broken["cancel_order"]["fields"]["restock"] = {"required": True}
    broken["refund_order"]["fields"]["reason"]["description"] = 3
    problems = check_services_yaml(broken)
    assert (
        _invalid(
            "invalid slug .shared (try shared) @ data['.shared']",
            "invalid slug .shared (try shared) at '['.shared']'",
        )
        in problems[0]
    )
    assert _invalid("@ data['place_order']", "at 'place_order.") in problems[0]
    assert problems[1:] == [
        "place_order.channel: default 'drive_through' is invalid "
        "(value must be one of ['delivery', 'here', 'pickup', 'togo'])",
        "cancel_order.restock has no selector",
    ]


def test_services_translated() -> None:
    strings = _json(INTEGRATION / "translations" / "en.json")
    assert check_services_translated(_services(), strings) == []


def test_services_translated_check_catches_mistakes() -> None:
    strings = copy.deepcopy(_json(INTEGRATION / "translations" / "en.json"))
    del strings["services"]["query"]["description"]
    del strings["services"]["reconcile"]["fields"]["window_minutes"]["name"]
    strings["services"]["reconcile"]["fields"]["window"] = {"name": "Window", "description": "."}
    strings["services"]["close_day"] = {"name": "Close the day", "description": "."}
    del strings["selector"]["channel"]["options"]["togo"]
    services = _services()
    del services["fetch_nice_payment"]
    assert check_services_translated(services, strings) == [
        "place_order.channel: option 'togo' of selector channel is not translated",
        "field reconcile.window_minutes has no name",
        "translation of field reconcile.window, which does not exist",
        "service query has no description",
        "translation of service fetch_nice_payment, which does not exist",
        "translation of service close_day, which does not exist",
    ]


async def test_registered_services_are_described(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The services the integration registers (set up on the demo cafe) are exactly those of
    services.yaml, with the same fields, and Home Assistant describes each with en.json's text."""
    services = _services()
    strings = _json(INTEGRATION / "translations" / "en.json")["services"]
    registered = hass.services.async_services_for_domain(DOMAIN)
    assert set(registered) == set(services)
    for name, service in registered.items():
        assert isinstance(service.schema, vol.Schema), name
        assert isinstance(service.schema.schema, dict), name
        keys = {str(key) for key in service.schema.schema}
        fields = _fields(services[name])
        assert keys == set(fields), name
        required = {str(key) for key in service.schema.schema if isinstance(key, vol.Required)}
        assert required <= {key for key, spec in fields.items() if spec.get("required")}, name

    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions) == set(services)
    # The texts people see: Home Assistant's translations of the services (2026.x leaves them out
    # of the descriptions, for the frontend to translate; 2025.x also puts them in).
    translated = await async_get_translations(hass, "en", "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services"
    for name, description in descriptions.items():
        texts = {
            "name": strings[name]["name"],
            "description": strings[name]["description"],
        }
        for text, value in texts.items():
            assert translated[f"{prefix}.{name}.{text}"] == value, (name, text)
            assert description.get(text, value) == value, (name, text)
        for key, spec in description["fields"].items():
            for text in ("name", "description"):
                value = strings[name]["fields"][key][text]
                assert translated[f"{prefix}.{name}.fields.{key}.{text}"] == value, (name, key)
                assert spec.get(text, value) == value, (name, key, text)

    # Home Assistant's loader takes the integration as it is published
    integration = await async_get_integration(hass, DOMAIN)
    manifest = _json(INTEGRATION / "manifest.json")
    assert not integration.is_built_in
    assert integration.version == AwesomeVersion(manifest["version"])
    assert integration.dependencies == manifest["dependencies"]
    assert await integration.resolve_dependencies() is not None


# --- icons.json -----------------------------------------------------------------------------------

TRANSLATION_KEY: Final = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")


def _icon(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"mdi:[a-z0-9]+(-[a-z0-9]+)*", value):
        raise vol.Invalid(f"{value!r} is not an icon from Material Design Icons (mdi:...)")
    return value


def _key(value: Any) -> str:
    if not isinstance(value, str) or not TRANSLATION_KEY.match(value):
        raise vol.Invalid(f"{value!r} is not a translation key")
    return value


def _number(value: Any) -> str:
    try:
        float(value)
    except (TypeError, ValueError) as err:
        raise vol.Invalid(f"range key {value!r} is not a number") from err
    return str(value)


_ENTITY_ICONS: Final = vol.Schema(
    {
        vol.Optional("default"): _icon,
        vol.Optional("state"): {_key: _icon},
        vol.Optional("range"): {_number: _icon},
        vol.Optional("state_attributes"): {
            _key: {vol.Optional("default"): _icon, vol.Optional("state"): {_key: _icon}}
        },
    }
)
# hassfest's icons.py for an integration that is no entity component
ICONS_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("entity"): {cv.slug: {_key: _ENTITY_ICONS}},
        vol.Optional("services"): {
            _key: {vol.Optional("service"): _icon, vol.Optional("sections"): {_key: _icon}}
        },
    }
)


def _mdi_names() -> frozenset[str]:
    import hass_frontend  # noqa: PLC0415 (only this check needs the frontend)

    icons = json.loads(
        (Path(hass_frontend.where()) / "static" / "mdi" / "iconList.json").read_text(
            encoding="utf-8"
        )
    )
    return frozenset(icon["name"] for icon in icons)


def check_icons(
    icons: Any,
    *,
    services: Iterable[str],
    strings: Mapping[str, Any],
    mdi: frozenset[str],
) -> list[str]:
    """icons.json: hassfest's format, icons the frontend has, an icon for every service (HA
    requires them) and every entity translation key, and nothing for what does not exist."""
    problems = _schema_problems(ICONS_SCHEMA, icons)
    if not isinstance(icons, dict):
        return problems
    problems.extend(
        f"icon {name} is not in the frontend's Material Design Icons"
        for name in sorted(set(re.findall(r"mdi:([a-z0-9-]+)", json.dumps(icons))))
        if name not in mdi
    )
    service_icons = icons.get("services", {})
    services = list(services)
    problems.extend(
        f"service {name} has no icon"
        for name in services
        if "service" not in service_icons.get(name, {})
    )
    problems.extend(
        f"icon for service {name}, which does not exist"
        for name in service_icons
        if name not in services
    )
    entity_icons = icons.get("entity", {})
    entities = strings.get("entity", {})
    for platform, keys in entities.items():
        problems.extend(
            f"entity {platform}.{key} has no icon"
            for key in keys
            if not entity_icons.get(platform, {}).get(key, {}).get("default")
        )
    for platform, keys in entity_icons.items():
        problems.extend(
            f"icon for entity {platform}.{key}, which has no translation"
            for key in keys
            if key not in entities.get(platform, {})
        )
    return problems


def test_icons() -> None:
    assert (
        check_icons(
            _json(INTEGRATION / "icons.json"),
            services=_services(),
            strings=_json(INTEGRATION / "strings.json"),
            mdi=_mdi_names(),
        )
        == []
    )


def test_icons_check_catches_mistakes() -> None:
    icons = copy.deepcopy(_json(INTEGRATION / "icons.json"))
    del icons["services"]["query"]
    icons["services"]["close_day"] = {"service": "mdi:store-clock"}
    icons["services"]["reconcile"] = {"service": "mdi:scale-imbalanced-totally"}
    del icons["entity"]["sensor"]["revenue_today"]
    icons["entity"]["todo"]["shopping"] = {"default": "mdi:cart"}
    icons["entity"]["switch"]["availability"]["state"]["off"] = "coffee-off"
    icons["entity"]["sensor"]["active_alarms"]["range"]["many"] = "mdi:alarm-light"
    problems = check_icons(
        icons,
        services=_services(),
        strings=_json(INTEGRATION / "strings.json"),
        mdi=_mdi_names(),
    )
    assert "range key 'many' is not a number" in problems[0]
    assert "'coffee-off' is not an icon from Material Design Icons" in problems[0]
    assert problems[1:] == [
        "icon scale-imbalanced-totally is not in the frontend's Material Design Icons",
        "service query has no icon",
        "icon for service close_day, which does not exist",
        "entity sensor.revenue_today has no icon",
        "icon for entity todo.shopping, which has no translation",
    ]


# --- the add-on repository (Supervisor) ------------------------------------------------------------

ADDON_FILES: Final = (
    "config.yaml",
    "build.yaml",
    "DOCS.md",
    "README.md",
    "CHANGELOG.md",
    "translations/en.yaml",
)


def check_addon_repository(root: Path) -> list[str]:
    """repository.yaml names the add-on repository; each add-on folder has what the store and
    the Supervisor show (its manifest's slug is its folder, its version is in its changelog)."""
    problems: list[str] = []
    repository = _yaml(root / "repository.yaml") if (root / "repository.yaml").is_file() else {}
    problems.extend(
        f"repository.yaml has no {key}"
        for key in ("name", "url", "maintainer")
        if not (
            isinstance(repository, dict)
            and isinstance(repository.get(key), str)
            and repository[key]
        )
    )
    folders = sorted(path for path in (root / "addons").iterdir() if path.is_dir())
    if not folders:
        problems.append("addons/ holds no add-on")
    for folder in folders:
        missing = [name for name in ADDON_FILES if not (folder / name).is_file()]
        problems.extend(f"addons/{folder.name}/{name} is missing" for name in missing)
        if "config.yaml" in missing:
            continue
        config = _yaml(folder / "config.yaml")
        if config.get("slug") != folder.name:
            problems.append(f"addons/{folder.name}: slug {config.get('slug')!r} is not its folder")
        version = config.get("version")
        if not isinstance(version, str):
            problems.append(f"addons/{folder.name}: version {version!r} is not a string")
        elif "CHANGELOG.md" not in missing and not re.search(
            rf"^## \[?{re.escape(version)}\]?\b",
            (folder / "CHANGELOG.md").read_text(encoding="utf-8"),
            re.M,
        ):
            problems.append(f"addons/{folder.name}: CHANGELOG.md has no entry for {version}")
    return problems


def check_repository_identity(
    manifest: Mapping[str, Any],
    repository: Mapping[str, Any],
    addons: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """The manifest, the add-on repository and the add-ons name the same GitHub repository."""
    url = str(repository.get("url", "")).rstrip("/")
    problems: list[str] = []
    if manifest.get("documentation") != url:
        problems.append(f"documentation {manifest.get('documentation')} is not {url}")
    if manifest.get("issue_tracker") != f"{url}/issues":
        problems.append(f"issue_tracker {manifest.get('issue_tracker')} is not {url}/issues")
    problems.extend(
        f"add-on {slug}'s url {config.get('url')} is not in {url}"
        for slug, config in addons.items()
        if not str(config.get("url", "")).startswith(f"{url}/")
    )
    return problems


def test_addon_repository() -> None:
    assert check_addon_repository(ROOT) == []
    addons = {path.parent.name: _yaml(path) for path in ROOT.glob("addons/*/config.yaml")}
    manifest = _json(INTEGRATION / "manifest.json")
    assert check_repository_identity(manifest, _yaml(ROOT / "repository.yaml"), addons) == []


def test_addon_repository_check_catches_mistakes(repository_copy: Path) -> None:
    assert check_addon_repository(repository_copy) == []
    addon = repository_copy / "addons" / "careon_vision"
    (addon / "DOCS.md").unlink()
    (addon / "translations" / "en.yaml").unlink()
    config = _yaml(addon / "config.yaml")
    (addon / "config.yaml").write_text(
        yaml.safe_dump({**config, "slug": "vision", "version": "0.2.0"}), encoding="utf-8"
    )
    repository = _yaml(repository_copy / "repository.yaml")
    del repository["maintainer"]
    (repository_copy / "repository.yaml").write_text(yaml.safe_dump(repository), encoding="utf-8")
    (repository_copy / "addons" / "README.md").touch()  # a file beside the add-ons is no add-on
    assert check_addon_repository(repository_copy) == [
        "repository.yaml has no maintainer",
        "addons/careon_vision/DOCS.md is missing",
        "addons/careon_vision/translations/en.yaml is missing",
        "addons/careon_vision: slug 'vision' is not its folder",
        "addons/careon_vision: CHANGELOG.md has no entry for 0.2.0",
    ]
    (addon / "config.yaml").write_text(yaml.safe_dump({**config, "version": 1.0}), encoding="utf-8")
    assert "addons/careon_vision: version 1.0 is not a string" in check_addon_repository(
        repository_copy
    )

    manifest = _json(INTEGRATION / "manifest.json")
    assert check_repository_identity(
        {**manifest, "issue_tracker": "https://github.com/careon-dev/careon-issues"},
        {"url": "https://github.com/careon-dev/careon"},
        {
            "careon_vision": {
                "url": "https://github.com/someone/else/tree/main/addons/careon_vision"
            }
        },
    ) == [
        "issue_tracker https://github.com/careon-dev/careon-issues is not "
        "https://github.com/careon-dev/careon/issues",
        "add-on careon_vision's url https://github.com/someone/else/tree/main/addons/careon_vision "
        "is not in https://github.com/careon-dev/careon",
    ]
