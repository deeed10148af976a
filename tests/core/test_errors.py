"""The error tree: stable codes, titles, HTTP statuses, the docstring drawing, problem+json."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from passerelle import errors

CLASSES = errors.all_error_classes()
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
TREE_LINE = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)(?:\s+(?P<code>[a-z0-9_]+))?")


def drawn_tree() -> dict[str, tuple[str | None, str | None]]:
    """{class name: (parent name, documented code)} read from the module docstring."""
    doc = errors.__doc__ or ""
    lines = doc.split("::", 1)[1].splitlines()
    root = next(line.strip() for line in lines if line.strip())
    tree: dict[str, tuple[str | None, str | None]] = {root: (None, None)}
    stack = [root]
    for line in lines:
        match = TREE_LINE.match(line.strip("\n")[4:])  # the block is indented by 4
        if not match:
            continue
        depth = len(match["indent"]) // 4 + 1
        del stack[depth:]
        tree[match["name"]] = (stack[depth - 1], match["code"])
        stack.append(match["name"])
    return tree


def test_all_error_classes_is_the_whole_module() -> None:
    defined = {
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, errors.PasserelleError)
    }
    assert set(CLASSES) == defined
    assert CLASSES[0] is errors.PasserelleError
    assert len(CLASSES) == len(set(CLASSES))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_class_attributes(cls: type[errors.PasserelleError]) -> None:
    assert SNAKE.fullmatch(cls.code), cls.code
    assert isinstance(cls.title, str) and cls.title.strip() and cls.title[0].isupper()
    assert isinstance(cls.status, int) and 400 <= cls.status <= 599
    assert cls.__name__.endswith(("Error", "Error_"))


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in CLASSES]
    duplicates = {code for code in codes if codes.count(code) > 1}
    assert not duplicates


def test_every_class_is_drawn_in_the_docstring_under_its_parent() -> None:
    tree = drawn_tree()
    assert set(tree) == {cls.__name__ for cls in CLASSES}
    for cls in CLASSES:
        parent, code = tree[cls.__name__]
        if cls is errors.PasserelleError:
            assert parent is None
            continue
        assert cls.__bases__[0].__name__ == parent, cls.__name__
        if code is not None:
            assert code == cls.code, cls.__name__


def test_nearly_every_code_is_documented_in_the_tree() -> None:
    tree = drawn_tree()
    undocumented = {name for name, (_, code) in tree.items() if code is None}
    # the root is abstract
    assert undocumented <= {"PasserelleError"}


def test_public_names() -> None:
    helpers = {"all_error_classes", "markdown_table", "CHECK_CODES"}
    assert {cls.__name__ for cls in CLASSES} | helpers == set(errors.__all__)


def test_key_error_is_not_the_builtin() -> None:
    assert not issubclass(errors.KeyError_, KeyError)
    assert not issubclass(errors.PasserelleError, (KeyError, ValueError, LookupError))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_to_problem_shape(cls: type[errors.PasserelleError]) -> None:
    error = cls("what exactly went wrong")
    problem = error.to_problem()
    assert problem == {
        "type": f"tag:passerelle,2026:error:{cls.code}",
        "title": cls.title,
        "status": cls.status,
        "detail": "what exactly went wrong",
        "code": cls.code,
    }
    json.dumps(problem)


def test_detail_defaults_to_the_title() -> None:
    error = errors.SignatureError()
    assert error.detail == str(error) == "Invalid signature"
    assert error.to_problem()["detail"] == "Invalid signature"


def test_extra_members_are_added() -> None:
    error = errors.SchemaError("2 violations", violations=["/a", "/b"])
    assert str(error) == "2 violations"
    problem = error.to_problem()
    assert problem["violations"] == ["/a", "/b"]
    assert problem["status"] == 422 and problem["code"] == "schema_violation"


def test_subclasses_are_caught_by_their_family() -> None:
    with pytest.raises(errors.TokenFormatError):
        raise errors.TokenTooLargeError("big")
    with pytest.raises(errors.JoseError):
        raise errors.AlgorithmError("none")
    with pytest.raises(errors.KeyError_):
        raise errors.KeyStoreLockedError("no passphrase")
    with pytest.raises(errors.TrustError):
        raise errors.KeyCompromisedError("void")


def test_statuses_of_note() -> None:
    assert errors.TokenTooLargeError.status == 413
    assert errors.KeyNotFoundError.status == 404
    assert errors.KeyStoreLockedError.status == 500  # a server configuration problem
    assert errors.StatusUnavailableError.status == 503
    assert errors.PasserelleError.status == 400
