"""What operators read out of the console (SPEC §5, WAL-6): CSV of exactly the rows a
list's filters select, streamed; date filters and searches by user id and email; and the
audit records, where every operator sees their own actions and a scope opens all."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import AuditRecord, User
from codexpanel import clock
from wallet import actions
from wallet.models import CardPlan, Entitlement, LedgerEntry

from .test_wallet_admin_operations import scoped_client

pytestmark = pytest.mark.django_db


def exported(client: Client, url: str, **query: str) -> list[dict[str, str]]:
    response = client.get(url, query)
    assert response.status_code == 200, response.content[:300]
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def cashier(make_user) -> Client:
    return scoped_client(make_user, "cashier", "adjust_wallet")


@pytest.fixture
def people(make_user):
    ada = make_user("ada", email="ada@example.com")
    bob = make_user("bob", email="bob@example.org")
    return ada, bob


def test_the_ledger_exports_the_rows_its_filters_and_search_select(cashier, people):
    ada, bob = people
    actions.adjust(ada, kind="recharge", amount=5000, reason="=HYPERLINK(1)", idempotency_key="1")
    actions.adjust(ada, kind="deduct", amount=-500, reason="fee", idempotency_key="2")
    actions.adjust(bob, kind="gift", amount=25, reason="welcome", idempotency_key="3")
    page = cashier.get("/admin/wallet/ledgerentry/", {"kind": "recharge"})
    assert "/admin/wallet/ledgerentry/export.csv?kind=recharge" in page.text
    everything = exported(cashier, "/admin/wallet/ledgerentry/export.csv")
    assert [row["username"] for row in everything] == ["bob", "ada", "ada"]
    adas = exported(cashier, "/admin/wallet/ledgerentry/export.csv", q="ada@example")
    assert [(row["kind"], row["amount"], row["balance_after"]) for row in adas] == [
        ("deduct", "-5.00", "45.00"),
        ("recharge", "50.00", "50.00"),
    ]
    assert adas[1]["reason"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it
    assert adas[1]["currency"] == "CNY" and adas[1]["amount_minor"] == "5000"
    by_id = exported(cashier, "/admin/wallet/ledgerentry/export.csv", q=bob.user_id)
    assert [row["username"] for row in by_id] == ["bob"]
    gifts = exported(cashier, "/admin/wallet/ledgerentry/export.csv", kind="gift")
    assert [row["reason"] for row in gifts] == ["welcome"]


def test_the_ledger_is_filtered_by_date(cashier, people):
    ada, _bob = people
    actions.adjust(ada, kind="recharge", amount=100, reason="old", idempotency_key="old")
    actions.adjust(ada, kind="recharge", amount=100, reason="new", idempotency_key="new")
    LedgerEntry.objects.filter(reason="old").update(created_at=clock.now() - timedelta(days=40))
    now = clock.now()
    week = {"created_at__gte": str(now - timedelta(days=7)), "created_at__lt": str(now)}
    page = cashier.get("/admin/wallet/ledgerentry/", week)
    assert page.status_code == 200 and ">new<" in page.text and ">old<" not in page.text
    rows = exported(cashier, "/admin/wallet/ledgerentry/export.csv", **week)
    assert [row["reason"] for row in rows] == ["new"]


def test_an_export_needs_the_lists_scope_and_refuses_an_unknown_filter(make_user, cashier):
    carder = scoped_client(make_user, "carder", "manage_cards")
    assert carder.get("/admin/wallet/ledgerentry/export.csv").status_code == 403
    assert cashier.get("/admin/wallet/entitlement/export.csv").status_code == 403
    assert Client().get("/admin/wallet/ledgerentry/export.csv").status_code == 302
    bad = cashier.get("/admin/wallet/ledgerentry/export.csv", {"wallet__user__password": "x"})
    assert bad.status_code == 400
    garbled = cashier.get("/admin/wallet/ledgerentry/export.csv", {"created_at__gte": "garbage"})
    assert garbled.status_code == 400 and garbled.content == b"Unknown filter."


def test_cards_export_by_status_and_search(make_user, people):
    ada, bob = people
    carder = scoped_client(make_user, "carder", "manage_cards")
    plan = CardPlan.objects.create(
        code="pro", name="Pro", price=3000, duration_days=30, device_quota=5
    )
    actions.grant_card(ada, plan, None)
    expired = actions.grant_card(bob, plan, None)
    Entitlement.objects.filter(pk=expired.pk).update(
        starts_at=clock.now() - timedelta(days=60), ends_at=clock.now() - timedelta(days=30)
    )
    active = exported(carder, "/admin/wallet/entitlement/export.csv", status="active")
    assert [(row["username"], row["status"]) for row in active] == [("ada", "active")]
    gone = exported(carder, "/admin/wallet/entitlement/export.csv", status="expired")
    assert [(row["username"], row["status"]) for row in gone] == [("bob", "expired")]
    by_email = exported(carder, "/admin/wallet/entitlement/export.csv", q="bob@example.org")
    assert [row["plan"] for row in by_email] == ["pro"]
    page = carder.get("/admin/wallet/entitlement/", {"q": ada.user_id})
    assert ">ada</a>" in page.text and ">bob</a>" not in page.text


def test_every_operator_reads_their_own_audit_records_and_the_scope_opens_all(
    make_user, cashier, people
):
    ada, _bob = people
    teller = scoped_client(make_user, "teller", "adjust_wallet")
    auditor = scoped_client(make_user, "auditor", "read_audit")
    by = {name: User.objects.get(username=name) for name in ("cashier", "teller")}
    actions.adjust(ada, kind="gift", amount=1, reason="a", idempotency_key="a", actor=by["cashier"])
    actions.adjust(ada, kind="gift", amount=2, reason="b", idempotency_key="b", actor=by["teller"])
    mine, theirs = (AuditRecord.objects.get(actor=by[name]) for name in ("cashier", "teller"))
    index = cashier.get("/admin/")
    assert "/admin/accounts/auditrecord/" in index.text
    listing = cashier.get("/admin/accounts/auditrecord/")
    assert listing.status_code == 200
    assert f"/admin/accounts/auditrecord/{mine.pk}/change/" in listing.text
    assert f"/admin/accounts/auditrecord/{theirs.pk}/change/" not in listing.text
    assert cashier.get(f"/admin/accounts/auditrecord/{mine.pk}/change/").status_code == 200
    # Someone else's record is as absent as one that does not exist.
    hidden = cashier.get(f"/admin/accounts/auditrecord/{theirs.pk}/change/")
    assert hidden.status_code == 302 and hidden.url == "/admin/"
    own_rows = exported(cashier, "/admin/accounts/auditrecord/export.csv")
    assert [row["operator"] for row in own_rows] == ["cashier"]
    everyone = exported(auditor, "/admin/accounts/auditrecord/export.csv")
    assert [row["operator"] for row in everyone] == ["teller", "cashier"]
    assert everyone[0]["after"].startswith('{"balance": 3')
    searched = exported(auditor, "/admin/accounts/auditrecord/export.csv", q=ada.user_id)
    assert len(searched) == 2
    assert auditor.get(f"/admin/accounts/auditrecord/{mine.pk}/change/").status_code == 200
    assert teller.get(f"/admin/accounts/auditrecord/{theirs.pk}/change/").status_code == 200
    assert teller.get(f"/admin/accounts/auditrecord/{mine.pk}/change/").url == "/admin/"
