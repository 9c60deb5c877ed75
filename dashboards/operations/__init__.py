"""Operations from the dashboard, opt-in (``dashboard.actions``) and behind a login: who is
logged in, the actions themselves (each checked against the allow-list and recorded as an
``operator_action`` event) and the page sections that offer them."""
