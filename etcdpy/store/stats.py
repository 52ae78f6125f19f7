"""Counters of store actions, rendered as etcd's ``/v2/stats/store`` object."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from etcdpy.store.event import (
    COMPARE_AND_DELETE,
    COMPARE_AND_SWAP,
    CREATE,
    DELETE,
    GET,
    SET,
    UPDATE,
)


@dataclass(slots=True)
class StoreStats:
    """Success and failure counts per action, in etcd's JSON order.

    Counted per member: gets on the member that served them, writes on every member
    that applied them.
    """

    gets_success: int = 0
    gets_fail: int = 0
    sets_success: int = 0
    sets_fail: int = 0
    delete_success: int = 0
    delete_fail: int = 0
    update_success: int = 0
    update_fail: int = 0
    create_success: int = 0
    create_fail: int = 0
    compare_and_swap_success: int = 0
    compare_and_swap_fail: int = 0
    compare_and_delete_success: int = 0
    compare_and_delete_fail: int = 0
    expire_count: int = 0

    def count(self, action: str, ok: bool) -> None:
        name = _FIELD_BY_ACTION[action][0 if ok else 1]
        setattr(self, name, getattr(self, name) + 1)

    def to_dict(self, watchers: int) -> dict[str, int]:
        d = {json_name: getattr(self, f) for f, json_name in _JSON_NAMES}
        d["watchers"] = watchers
        return d

    def to_list(self) -> list[int]:
        return list(astuple(self))

    @classmethod
    def from_list(cls, v: list[int]) -> StoreStats:
        return cls(*v)


_JSON_NAMES: tuple[tuple[str, str], ...] = tuple(
    zip(
        [f.name for f in fields(StoreStats)],
        [
            "getsSuccess",
            "getsFail",
            "setsSuccess",
            "setsFail",
            "deleteSuccess",
            "deleteFail",
            "updateSuccess",
            "updateFail",
            "createSuccess",
            "createFail",
            "compareAndSwapSuccess",
            "compareAndSwapFail",
            "compareAndDeleteSuccess",
            "compareAndDeleteFail",
            "expireCount",
        ],
        strict=True,
    )
)

_FIELD_BY_ACTION: dict[str, tuple[str, str]] = {
    GET: ("gets_success", "gets_fail"),
    SET: ("sets_success", "sets_fail"),
    DELETE: ("delete_success", "delete_fail"),
    UPDATE: ("update_success", "update_fail"),
    CREATE: ("create_success", "create_fail"),
    COMPARE_AND_SWAP: ("compare_and_swap_success", "compare_and_swap_fail"),
    COMPARE_AND_DELETE: ("compare_and_delete_success", "compare_and_delete_fail"),
}
