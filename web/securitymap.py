"""Connexion's security handlers for the schemes the spec uses, each reading a security function's
signature once instead of twice on every request (it asks whether the function takes `required_scopes`
and `request`, which never changes)."""

from __future__ import annotations

import functools
import typing as t

from connexion.decorators.parameter import inspect_function_arguments
from connexion.security import BasicSecurityHandler, OAuthSecurityHandler


@functools.cache
def accepts_keyword(function: t.Callable[..., t.Any], keyword: str) -> bool:
    arguments, has_kwargs = inspect_function_arguments(function)
    return bool(has_kwargs) or keyword in arguments


class BasicChecks(BasicSecurityHandler):
    _accepts_kwarg = staticmethod(accepts_keyword)


class TokenChecks(OAuthSecurityHandler):
    _accepts_kwarg = staticmethod(accepts_keyword)


security_map = {"basic": BasicChecks, "oauth2": TokenChecks}
