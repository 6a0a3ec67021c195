from django.urls import path

from . import views

app_name = "wallet"

urlpatterns = [
    path("api/wallet", views.WalletView.as_view(), name="wallet"),
    path("api/wallet/ledger", views.LedgerView.as_view(), name="ledger"),
    path("api/wallet/cards", views.CardPurchaseView.as_view(), name="cards"),
]
