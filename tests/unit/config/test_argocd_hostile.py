"""Hostile values in an ``ImageUpdater``: every field a user writes is refused at
``file:line: field`` when it is empty, huge, malformed or names something outside its own
namespace or folder, instead of being defaulted, truncated or followed."""

from __future__ import annotations

import pytest

from image_automation.config.argocd_images import ImageSpec, map_image
from image_automation.config.argocd_models import CommonUpdateSettings
from image_automation.config.loading import load_bytes

HEAD = """\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: u, namespace: argocd}
spec:
  applicationRefs:
    - namePattern: app
      images:
        - alias: a
          imageName: nginx
"""
LINE = 10
"""The line of what each case appends under the image."""


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("manifestTargets: {helm: {name: ''}}", "manifestTargets.helm.name"),
        ("manifestTargets: {helm: {tag: 'image..tag'}}", "manifestTargets.helm.tag"),
        ("manifestTargets: {helm: {spec: '.image'}}", "manifestTargets.helm.spec"),
        ("manifestTargets: {helm: {name: 'image.'}}", "manifestTargets.helm.name"),
        (f"manifestTargets: {{helm: {{name: {'a' * 5000}}}}}", "manifestTargets.helm.name"),
        (f"manifestTargets: {{helm: {{name: {'a.' * 300}a}}}}", "manifestTargets.helm.name"),
        (f"manifestTargets: {{kustomize: {{name: {'a' * 5000}}}}}",
         "manifestTargets.kustomize.name"),
        ("manifestTargets: {kustomize: {name: 'x\ny'}}", "manifestTargets.kustomize.name"),
        ("commonUpdateSettings: {ignoreTags: [" + ",".join(["x"] * 101) + "]}",
         "commonUpdateSettings.ignoreTags"),
    ],
)  # fmt: skip
def test_a_hostile_image_field_is_refused_at_its_line(extra: str, field: str) -> None:
    loaded = load_bytes((HEAD + "          " + extra + "\n").encode(), file="u.yaml")
    errors = [str(e) for e in loaded.errors]
    prefix = "u.yaml:"
    assert any(e.startswith(prefix) and f"spec.applicationRefs[0].images[0].{field}" in e
               for e in errors), errors  # fmt: skip
    assert not loaded.documents


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("pullsecret:argocd/..", "is not a Secret name"),
        ("pullsecret:argocd/.", "is not a Secret name"),
        ("pullsecret:argocd/a/b", "is not a Secret name"),
        ("pullsecret:argocd/", "is not a Secret name"),
        ("pullsecret:../../etc", "is not a Secret name"),
        ("pullsecret:argocd/" + "a" * 300, "is not a Secret name"),
        ("pullsecret:kube-system/admin", "is in namespace kube-system"),
        ("pullsecret:regcred", "pullsecret:<namespace>/<name>"),
    ],
)
def test_a_pull_secret_outside_the_updaters_namespace_or_folder_is_refused(
    secret: str, message: str
) -> None:
    spec = ImageSpec("a", "nginx", CommonUpdateSettings(pull_secret=secret), ("i",), ("s",))
    mapped = map_image(spec, namespace="argocd", name="u/app/a")
    assert mapped.tracked is None
    assert any(message in p.message and p.path == ("s", "pullSecret") and p.error
               for p in mapped.problems), mapped.problems  # fmt: skip


def test_a_pull_secret_of_the_updaters_namespace_names_the_mounted_folder() -> None:
    spec = ImageSpec("a", "nginx", CommonUpdateSettings(pull_secret="pullsecret:argocd/reg.cred"),
                     ("i",), ("s",))  # fmt: skip
    mapped = map_image(spec, namespace="argocd", name="u/app/a")
    assert mapped.tracked is not None, mapped.problems
    assert mapped.tracked.spec.scan is not None
    assert mapped.tracked.spec.scan.secret_ref is not None
    assert mapped.tracked.spec.scan.secret_ref.name == "reg.cred"
