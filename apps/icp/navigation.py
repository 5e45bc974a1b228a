from apps.accounts.navigation import NavItem

NAV_ITEMS = [NavItem("ICP", "icp:profile", order=20)]
