"""Users, logins and sessions through the services, on both databases."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cauri.domain import totp
from cauri.domain.errors import Conflict, ValidationFailed
from cauri.services import users as service
from cauri.services.audit import recent_entries
from cauri.settings import Settings
from cauri.store.sealing import unseal
from cauri.store.tables import audit_log, dashboard_sessions, login_failures, users
from tests.conftest import MerchantApp, uow
from tests.dashboard.conftest import PASSWORD, User, new_user


async def test_a_password_is_stored_as_an_argon2id_hash(engine: AsyncEngine, owner: User) -> None:
    async with engine.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash).where(users.c.email == owner.email))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_a_new_user_is_checked(engine: AsyncEngine, merchant: MerchantApp) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await service.create_user(uow(engine), "not an email", "short", "admin", [merchant.id])
    assert caught.value.errors is not None
    assert set(caught.value.errors.by_field) == {"email", "password", "role"}
    await new_user(engine, "viewer", [merchant.id], email="Twice@Example.com")
    with pytest.raises(Conflict):
        await new_user(engine, "viewer", [merchant.id], email="twice@example.com")


async def test_login_opens_a_session_that_only_the_token_opens(
    engine: AsyncEngine, settings: Settings, owner: User, merchant: MerchantApp
) -> None:
    token, session = await service.log_in(uow(engine), settings, owner.email.upper(), owner.password, "", "10.0.0.1")
    assert session.app_ids == (merchant.id,) and session.role == "owner"
    found = await service.current_session(uow(engine), settings, token)
    assert found is not None and found.user_id == session.user_id
    assert await service.current_session(uow(engine), settings, token + "x") is None
    async with engine.connect() as conn:
        hashes = (await conn.execute(select(dashboard_sessions.c.token_hash))).scalars().all()
    assert service.token_hash(token) in hashes and token.encode() not in hashes
    await service.log_out(uow(engine), session)
    assert await service.current_session(uow(engine), settings, token) is None


async def test_a_session_ends_when_idle_and_at_its_term(engine: AsyncEngine, settings: Settings, owner: User) -> None:
    token, session = await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.0.0.2")
    async with engine.begin() as conn:
        stale = dashboard_sessions.c.token_hash == session.token_hash
        idle = timedelta(minutes=settings.dashboard_idle_minutes + 1)
        row = (await conn.execute(select(dashboard_sessions).where(stale))).one()
        await conn.execute(update(dashboard_sessions).where(stale).values(last_seen_at=row.last_seen_at - idle))
    assert await service.current_session(uow(engine), settings, token) is None
    token, session = await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.0.0.2")
    async with engine.begin() as conn:
        stale = dashboard_sessions.c.token_hash == session.token_hash
        row = (await conn.execute(select(dashboard_sessions).where(stale))).one()
        await conn.execute(update(dashboard_sessions).where(stale).values(expires_at=row.created_at))
    assert await service.current_session(uow(engine), settings, token) is None


async def test_wrong_passwords_throttle_the_account_even_from_other_addresses(
    engine: AsyncEngine, settings: Settings, owner: User
) -> None:
    for n in range(settings.dashboard_failures_per_account):
        with pytest.raises(service.LoginRefused):
            await service.log_in(uow(engine), settings, owner.email, "wrong password!", "", f"10.1.0.{n}")
    with pytest.raises(service.LoginThrottled):  # the right password, from a fresh address: still refused
        await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.1.1.1")


async def test_an_address_is_throttled_across_accounts(engine: AsyncEngine, settings: Settings, owner: User) -> None:
    tight = settings.model_copy(update={"dashboard_failures_per_address": 3})
    for n in range(3):
        with pytest.raises(service.LoginRefused):
            await service.log_in(uow(engine), tight, f"nobody{n}@example.com", "whatever", "", "10.2.0.1")
    with pytest.raises(service.LoginThrottled):
        await service.log_in(uow(engine), tight, owner.email, owner.password, "", "10.2.0.1")
    await service.log_in(uow(engine), tight, owner.email, owner.password, "", "10.2.0.2")  # elsewhere: fine


async def test_with_totp_on_a_login_wants_a_fresh_code(engine: AsyncEngine, settings: Settings, owner: User) -> None:
    uri = await service.enrol_totp(uow(engine), owner.email, settings.secret)
    async with engine.connect() as conn:
        query = select(users.c.totp_secret_encrypted).where(users.c.email == owner.email)
        sealed = (await conn.execute(query)).scalar()
    secret = unseal(settings.secret, sealed)
    assert f"secret={secret}" in uri and secret.encode() not in sealed
    with pytest.raises(service.LoginRefused):
        await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.3.0.1")
    code = totp.hotp(secret, totp.step_at(time.time()))
    await service.log_in(uow(engine), settings, owner.email, owner.password, code, "10.3.0.1")
    with pytest.raises(service.LoginRefused):  # the same code again: replayed
        await service.log_in(uow(engine), settings, owner.email, owner.password, code, "10.3.0.1")


async def test_concurrent_logins_with_one_code_open_one_session(
    engine: AsyncEngine, settings: Settings, owner: User
) -> None:
    await service.enrol_totp(uow(engine), owner.email, settings.secret)
    async with engine.connect() as conn:
        query = select(users.c.totp_secret_encrypted).where(users.c.email == owner.email)
        sealed = (await conn.execute(query)).scalar()
    code = totp.hotp(unseal(settings.secret, sealed), totp.step_at(time.time()))
    results = await asyncio.gather(
        *(service.log_in(uow(engine), settings, owner.email, owner.password, code, "10.4.0.1") for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1


async def test_every_change_is_in_the_audit_log(engine: AsyncEngine, settings: Settings, owner: User) -> None:
    with pytest.raises(service.LoginRefused):
        await service.log_in(uow(engine), settings, owner.email, "not the password", "", "10.5.0.1")
    _token, session = await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.5.0.1")
    actions = [e.action for e in await recent_entries(uow(engine), session)]
    assert actions[:2] == ["login.succeeded", "login.failed"]
    async with engine.connect() as conn:
        query = select(audit_log).where(audit_log.c.action == "user.created", audit_log.c.target == session.user_id)
        created = (await conn.execute(query)).one()
    assert created.actor == "cli" and created.details["email"] == owner.email


async def test_the_purge_removes_ended_sessions_and_forgotten_failures(
    engine: AsyncEngine, settings: Settings, owner: User
) -> None:
    live_token, live = await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.6.0.1")
    _token, ended = await service.log_in(uow(engine), settings, owner.email, owner.password, "", "10.6.0.1")
    with pytest.raises(service.LoginRefused):
        await service.log_in(uow(engine), settings, owner.email, "wrong password!", "", "10.6.0.2")
    async with engine.begin() as conn:
        stale = dashboard_sessions.c.token_hash == ended.token_hash
        row = (await conn.execute(select(dashboard_sessions).where(stale))).one()
        await conn.execute(update(dashboard_sessions).where(stale).values(expires_at=row.created_at))
        long_ago = row.created_at - timedelta(hours=2)
        await conn.execute(update(login_failures).where(login_failures.c.subject == "address:10.6.0.2")
                           .values(failed_at=long_ago))  # fmt: skip
    assert await service.purge_ended(uow(engine), settings) >= 2  # the ended session, the address's old failure
    async with engine.connect() as conn:
        hashes = set((await conn.execute(select(dashboard_sessions.c.token_hash))).scalars())
        subjects = set((await conn.execute(select(login_failures.c.subject))).scalars())
    assert live.token_hash in hashes and ended.token_hash not in hashes and "address:10.6.0.2" not in subjects
    assert await service.current_session(uow(engine), settings, live_token) is not None


async def test_apps_granted_and_revoked_and_a_new_role_reach_open_sessions_and_the_audit_log(
    engine: AsyncEngine, settings: Settings, merchant: MerchantApp
) -> None:
    from tests.conftest import new_merchant

    later = await new_merchant(engine)  # an app created after the user
    user = await new_user(engine, "viewer", [merchant.id])
    token, _ = await service.log_in(uow(engine), settings, user.email, user.password, "", "10.0.0.9")
    assert await service.change_apps(uow(engine), user.email.upper(), [later.id], grant=True) == [later.id]
    assert await service.change_apps(uow(engine), user.email, [later.id], grant=True) == []  # already theirs
    session = await service.current_session(uow(engine), settings, token)
    assert session is not None and set(session.app_ids) == {merchant.id, later.id}
    assert await service.change_role(uow(engine), user.email, "developer") == "developer"
    assert await service.change_apps(uow(engine), user.email, [merchant.id], grant=False) == [merchant.id]
    session = await service.current_session(uow(engine), settings, token)
    assert session is not None and session.app_ids == (later.id,) and session.role == "developer"
    listed = {u.email: u for u in await service.list_users(uow(engine))}[user.email]
    assert (listed.role, listed.app_ids, listed.totp) == ("developer", (later.id,), False)
    async with engine.connect() as conn:
        query = select(audit_log.c.action).where(audit_log.c.target == listed.id)
        actions = list((await conn.execute(query)).scalars())
    assert {"user.apps_granted", "user.role_changed", "user.apps_revoked"} <= set(actions), actions
    assert actions.count("user.apps_granted") == 1  # the grant that changed nothing is not recorded


async def test_a_bad_role_or_unknown_user_or_app_changes_nothing(engine: AsyncEngine, merchant: MerchantApp) -> None:
    from cauri.domain.errors import NotFound

    user = await new_user(engine, "viewer", [merchant.id])
    with pytest.raises(ValidationFailed) as caught:
        await service.change_role(uow(engine), user.email, "admin")
    assert caught.value.errors is not None and list(caught.value.errors.by_field) == ["role"]
    with pytest.raises(NotFound):
        await service.change_role(uow(engine), "nobody@example.com", "owner")
    with pytest.raises(NotFound):
        await service.change_apps(uow(engine), user.email, [merchant.id, "app_missing"], grant=False)
    listed = {u.email: u for u in await service.list_users(uow(engine))}[user.email]
    assert (listed.role, listed.app_ids) == ("viewer", (merchant.id,))
