from apps.accounts.navigation import NavItem

NAV_ITEMS = [NavItem("MQL definition", "mql:definition_list", order=30)]
