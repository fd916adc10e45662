"""What an ImageUpdater's settings make of a plan: ApplicationSet generators evaluated from
the checkout, legacy annotations, the write-back method's credentials, the branch forms
(``base``, ``base:target``, ``base:<template>``), the ConfigMap's author, message and signing,
``forceUpdate`` and ``platforms``."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes, load_paths
from image_automation.domain import ImageRef
from image_automation.engine.argocd_apps import MAX_GENERATED
from image_automation.engine.argocd_plans import ArgoPlans, plan_argocd
from image_automation.engine.argocd_writing import image_writes
from image_automation.engine.automations import PlanContext, RepoTarget

URL = "https://git.example.test/org/fleet.git"
HEAD = "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\n"


def updater(refs: str, *, write_back: str = "{method: git}", annotations: str = "{}") -> str:
    return (f"{HEAD}metadata: {{name: u, namespace: argocd, annotations: {annotations}}}\n"
            f"spec:\n  writeBackConfig: {write_back}\n  applicationRefs:\n{refs}")  # fmt: skip


REF = "    - namePattern: '*'\n      images: [{alias: web, imageName: ghcr.io/org/web}]\n"


def app(name: str, path: str = "apps/web", *, annotations: str = "{}", labels: str = "{}") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd, labels: {labels}, annotations: {annotations}}}
spec:
  source: {{repoURL: "{URL}", targetRevision: main, path: {path}, helm: {{}}}}
"""


def plan(tmp: Path, *docs: str, secrets: Path | None = None) -> ArgoPlans:
    for directory in ("apps/web", "apps/api", "apps/db", "apps/.hidden", "other/x"):
        (tmp / directory).mkdir(parents=True, exist_ok=True)
        (tmp / directory / "Chart.yaml").write_text("name: x\n")
    loaded = load_bytes("---\n".join(docs).encode(), file="a.yaml")
    assert not loaded.errors, loaded.errors
    context = PlanContext(repo=RepoTarget(URL, "main", "repo-creds"), root=tmp,
                          secrets_dir=secrets, check_secret_files=secrets is not None)  # fmt: skip
    return plan_argocd(loaded, context)


def names(out: ArgoPlans) -> list[str]:
    return sorted(p.name for p in out.plans)


def appset(generator: str, template_name: str, *, go: bool = False) -> str:
    path = "apps/{{.name}}" if go else "apps/{{name}}"
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: set, namespace: argocd}}
spec:
  goTemplate: {str(go).lower()}
  generators:
    - {generator}
  template:
    metadata: {{name: "{template_name}"}}
    spec:
      source: {{repoURL: "{URL}", targetRevision: main, path: "{path}"}}
"""


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (appset("list: {elements: [{name: web}, {name: api}]}", "{{name}}"), ["u/api", "u/web"]),
        (appset("list: {elements: [{name: web}]}", "{{.name}}-go", go=True), ["u/web-go"]),
    ],
)
def test_an_applicationset_list_generator_gives_its_applications(
    tmp_path: Path, doc: str, expected: list[str]
) -> None:
    out = plan(tmp_path, updater(REF), doc)
    assert names(out) == expected, out.errors
    assert all(p.argocd is not None and p.argocd.file.startswith("apps/") for p in out.plans)


def _dirs(template: str, *, go: bool = False, url: str = URL, exclude: str = "") -> str:
    excluded = f", {{path: '{exclude}', exclude: true}}" if exclude else ""
    path = "{{.path.path}}" if go else "{{path}}"
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: dirs, namespace: argocd}}
spec:
  goTemplate: {str(go).lower()}
  generators:
    - git: {{repoURL: "{url}", revision: main, directories: [{{path: 'apps/*'}}{excluded}]}}
  template:
    metadata: {{name: "{template}"}}
    spec:
      source: {{repoURL: "{url}", targetRevision: main, path: "{path}"}}
"""


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (_dirs("{{path.basename}}"), ["u/api", "u/db", "u/web"]),
        (_dirs("{{path[1]}}", exclude="apps/db"), ["u/api", "u/web"]),
        (_dirs("{{.path.basename}}", go=True), ["u/api", "u/db", "u/web"]),
    ],
)
def test_a_git_directories_generator_reads_the_checkout(
    tmp_path: Path, doc: str, expected: list[str]
) -> None:
    out = plan(tmp_path, updater(REF), doc)
    assert names(out) == expected, out.errors  # apps/.hidden is never a directory of it
    assert {p.argocd.file for p in out.plans if p.argocd} == {
        f"apps/{n[2:]}/.argocd-source-{n[2:]}.yaml" for n in expected
    }


@pytest.mark.parametrize(
    ("generator", "why"),
    [
        ("clusters: {}", "a clusters generator needs a cluster or an API"),
        ("pullRequest: {github: {owner: o, repo: r}}", "a pullRequest generator needs"),
        (f'git: {{repoURL: "{URL}", revision: main, files: [{{path: x.json}}]}}',
         "a git files generator is not evaluated here"),
        ('git: {repoURL: "https://elsewhere.test/r.git", directories: [{path: "*"}]}',
         "not this repository"),
        (f'git: {{repoURL: "{URL}", directories: [{{path: "["}}]}}', "not a valid path pattern"),
        ("list: {elements: [1, 2]}", "list.elements must be a list of mappings"),
        ("{list: {}, clusters: {}}", "a generator must name exactly one kind"),
    ],
)  # fmt: skip
def test_a_generator_that_cannot_be_evaluated_from_git_is_reported_not_guessed(
    tmp_path: Path, generator: str, why: str
) -> None:
    out = plan(tmp_path, updater(REF), app("web"), appset(generator, "{{name}}"))
    assert names(out) == ["u/web"]  # the plain Application still plans
    assert any(why in w and w.startswith("a.yaml:") for w in out.warnings), out.warnings


def test_a_runaway_applicationset_is_cut_at_its_bound(tmp_path: Path) -> None:
    elements = ", ".join(f"{{name: a{i}}}" for i in range(MAX_GENERATED + 5))
    out = plan(tmp_path, updater(REF), appset(f"list: {{elements: [{elements}]}}", "{{name}}"))
    assert any(f"more than {MAX_GENERATED} Applications" in w for w in out.warnings)


LEGACY = (
    "{argocd-image-updater.argoproj.io/image-list: 'web=ghcr.io/org/web:~1.0, db=postgres',"
    " argocd-image-updater.argoproj.io/web.helm.image-name: front.image.repository,"
    " argocd-image-updater.argoproj.io/web.helm.image-tag: front.image.tag,"
    " argocd-image-updater.argoproj.io/db.update-strategy: alphabetical,"
    " argocd-image-updater.argoproj.io/db.force-update: 'true',"
    " argocd-image-updater.argoproj.io/write-back-method: git,"
    " argocd-image-updater.argoproj.io/write-back-target: 'helmvalues:values.yaml',"
    " argocd-image-updater.argoproj.io/git-branch: 'main:legacy-updates'}"
)
USE_ANNOTATIONS = "    - namePattern: web\n      useAnnotations: true\n"


def test_legacy_annotations_configure_the_application_with_a_deprecation_warning(
    tmp_path: Path,
) -> None:
    out = plan(tmp_path, updater(USE_ANNOTATIONS, write_back="{}"), app("web", annotations=LEGACY))
    assert not out.errors, out.errors
    (only,) = out.plans
    assert only.argocd is not None
    assert (only.argocd.target, only.argocd.file) == ("helmvalues", "apps/web/values.yaml")
    assert only.push.branch == "legacy-updates" and only.repo.branch == "main"
    web, db = only.argocd.images
    assert (web.helm_name, web.helm_tag, web.force) == ("front.image.repository",
                                                        "front.image.tag", False)  # fmt: skip
    assert db.force and db.name == "postgres"
    assert only.policies is not None
    assert [p.spec.order for p in only.policies][1] is not None
    assert any("deprecated in AIU v1" in w and "a.yaml:" in w for w in out.warnings)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("argocd-image-updater.argoproj.io/web.helm.image-name: 'a..b'", "web.helm.image-name"),
        ("argocd-image-updater.argoproj.io/web.kustomize.image-name: ''", "kustomize.image-name"),
        ("argocd-image-updater.argoproj.io/web.platforms: 'linux/../x'", ""),
        ("argocd-image-updater.argoproj.io/write-back-method: 'git:$(id)'", "write-back-method"),
        ("argocd-image-updater.argoproj.io/web.update-stratgy: name", "unknown annotation"),
    ],
)
def test_a_hostile_legacy_annotation_is_an_error_at_its_line_not_a_crash(
    tmp_path: Path, annotation: str, message: str
) -> None:
    method = (
        ""
        if "write-back-method" in annotation
        else ("argocd-image-updater.argoproj.io/write-back-method: git, ")
    )
    annotations = ("{argocd-image-updater.argoproj.io/image-list: 'web=nginx', "
                   f"{method}{annotation}}}")  # fmt: skip
    the_updater = updater(USE_ANNOTATIONS, write_back="{}")
    out = plan(tmp_path, the_updater, app("web", annotations=annotations))
    assert not out.plans
    line = len(the_updater.splitlines()) + 1 + 3  # the Application's metadata, after ---
    assert any(str(e).startswith(f"a.yaml:{line}: metadata.annotations.") and message in str(e)
               for _, e in out.errors), out.errors  # fmt: skip


def test_a_huge_legacy_image_list_is_refused(tmp_path: Path) -> None:
    images = ",".join(f"a{i}=nginx" for i in range(5000))
    annotations = f"{{argocd-image-updater.argoproj.io/image-list: '{images}'}}"
    out = plan(tmp_path, updater(USE_ANNOTATIONS, write_back="{}"),
               app("web", annotations=annotations))  # fmt: skip
    assert not out.plans
    assert any("at most 100 images" in str(e) for _, e in out.errors), out.errors[:3]


@pytest.mark.parametrize(
    ("write_back", "repo", "secret", "branch", "push"),
    [
        ("{method: git}", URL, "repo-creds", "main", None),
        ("{method: 'git:repocreds'}", URL, "repo-creds", "main", None),
        ("{method: git, gitConfig: {branch: 'main:updates'}}", URL, "repo-creds", "main",
         "updates"),
        ("{method: git, gitConfig: {branch: release}}", URL, "repo-creds", "release", None),
        ("{method: 'git:secret:argocd/other-creds', gitConfig: {repository: "
         "'https://git.example.test/org/other.git', branch: main}}",
         "https://git.example.test/org/other.git", "other-creds", "main", None),
        ("{method: 'git:secret:other-creds', gitConfig: {repository: "
         "'https://git.example.test/org/other.git', branch: main}}",
         "https://git.example.test/org/other.git", "other-creds", "main", None),
    ],
)  # fmt: skip
def test_the_write_back_method_and_branch_pick_repository_credentials_and_branches(
    tmp_path: Path, write_back: str, repo: str, secret: str, branch: str, push: str | None
) -> None:
    out = plan(tmp_path, updater(REF, write_back=write_back), app("web"))
    assert not out.errors, out.errors
    (only,) = out.plans
    assert (only.repo.url, only.repo.secret, only.repo.branch) == (repo, secret, branch)
    assert only.push.branch == push


def test_a_templated_write_branch_is_rendered_at_write_time(tmp_path: Path) -> None:
    write_back = "{method: git, gitConfig: {branch: 'main:image-updater-{{.AppName}}'}}"
    out = plan(tmp_path, updater(REF, write_back=write_back), app("web"))
    (only,) = out.plans
    assert only.argocd is not None and only.argocd.branch_template is not None
    assert only.push.branch is None and only.repo.branch == "main"


def test_another_namespaces_git_secret_is_refused(tmp_path: Path) -> None:
    write_back = ("{method: 'git:secret:kube-system/admin', gitConfig: {repository: "
                  "'https://git.example.test/org/other.git', branch: main}}")  # fmt: skip
    out = plan(tmp_path, updater(REF, write_back=write_back), app("web"))
    assert not out.plans
    assert any("is in namespace kube-system" in str(e) for _, e in out.errors), out.errors


CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-image-updater-config, namespace: argocd}
data:
  git.user: Bot
  git.email: bot@example.test
  git.commit-message-template: "{{ .AppName }} moves"
  git.commit-signing-method: ssh
"""


def test_the_configmap_sets_author_message_and_signing(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "signing").mkdir(parents=True)
    (secrets / "signing" / "identity").write_text("key\n")
    annotations = "{image-automation.io/signing-secret: signing}"
    out = plan(tmp_path, updater(REF, annotations=annotations), app("web"), CONFIG,
               secrets=secrets)  # fmt: skip
    assert not out.errors, out.errors
    (only,) = out.plans
    commit = only.commit
    assert (commit.author_name, commit.author_email) == ("Bot", "bot@example.test")
    assert commit.message_template is not None
    assert commit.message_template.source == "{{ .AppName }} moves"
    assert commit.signing is not None and commit.signing.format == "ssh"
    assert commit.signing.key_file == secrets / "signing" / "identity"


def test_without_a_configmap_the_author_and_message_are_aius(tmp_path: Path) -> None:
    (only,) = plan(tmp_path, updater(REF), app("web")).plans
    assert (only.commit.author_name, only.commit.author_email) == (
        "argocd-image-updater", "noreply@argoproj.io",
    )  # fmt: skip
    assert only.commit.signing is None


def test_a_broken_commit_message_template_is_an_error_at_its_key(tmp_path: Path) -> None:
    config = CONFIG.replace('"{{ .AppName }} moves"', '"{{ .AppName "')
    out = plan(tmp_path, updater(REF), app("web"), config)
    assert not out.plans
    assert any("data.git.commit-message-template" in str(e) for _, e in out.errors), out.errors


def test_force_update_writes_an_image_the_source_never_names(tmp_path: Path) -> None:
    refs = ("    - namePattern: web\n      images:\n"
            "        - {alias: web, imageName: ghcr.io/org/web}\n"
            "        - {alias: side, imageName: nginx, commonUpdateSettings: {forceUpdate: true}}\n"
            )  # fmt: skip
    (only,) = plan(tmp_path, updater(refs), app("web")).plans
    assert only.argocd is not None
    (tmp_path / "apps/web/values.yaml").write_text("image: {name: other, tag: 1}\n")
    refs_by_policy = {i.policy: ImageRef.parse(f"{i.name}:2.0.0") for i in only.argocd.images}
    written = image_writes(only.argocd, refs_by_policy, root=tmp_path)
    assert [w.name for w in written] == ["nginx"]  # web is not named under apps/web


def test_the_first_platform_is_scanned(tmp_path: Path) -> None:
    refs = ("    - namePattern: web\n      commonUpdateSettings: "
            "{platforms: [linux/arm64, linux/amd64]}\n"
            "      images: [{alias: web, imageName: ghcr.io/org/web}]\n")  # fmt: skip
    out = plan(tmp_path, updater(refs), app("web"))
    (only,) = out.plans
    assert only.policies is not None
    assert only.policies[0].platform == "linux/arm64"
    assert any("only the first platform, linux/arm64" in w for w in out.warnings)


def test_the_shipped_examples_plan_what_their_comments_say() -> None:
    """policies/argocd/: each ImageUpdater selects its Applications (the ApplicationSet's
    two included) and writes where the comments say, with no problem."""
    root = Path(__file__).resolve().parents[3] / "policies" / "argocd"
    loaded = load_paths([root])
    assert not loaded.errors, loaded.errors
    repo = RepoTarget("https://git.example.com/org/fleet.git", "main")
    out = plan_argocd(loaded, PlanContext(repo=repo, root=root))
    assert not out.errors and not out.warnings, (out.errors, out.warnings)
    targets = {p.name: (p.argocd.target, p.argocd.file, len(p.argocd.images))
               for p in out.plans if p.argocd}  # fmt: skip
    assert targets == {
        "fleet/guestbook": ("override", "apps/guestbook/.argocd-source-guestbook.yaml", 1),
        "fleet/shop-staging": ("kustomization", "apps/shop/overlays/staging", 1),
        "fleet/shop-production": ("kustomization", "apps/shop/overlays/production", 1),
        "platform/monitoring": ("helmvalues", "apps/monitoring/values/monitoring.yaml", 3),
    }
