"""How a person gets the first refresh token (printed by ``journalsync credentials set``)."""

from __future__ import annotations

__all__ = ["HOW_TO_GET_TOKEN"]

HOW_TO_GET_TOKEN = """\
КИАСУО has no API login: the first login is through Госуслуги in a browser, and journalsync
then keeps itself logged in with the refresh token that login produced. Do this once per
account (a parent, or a student aged 14+ with a Госуслуги account):

1. In a desktop browser open https://pwa.kiasuo.ru/ and press «Войти через Госуслуги».
   Log in with a confirmed Госуслуги account and wait until the diary («Дневник») opens.
2. Open the developer tools (F12, or «Дополнительные инструменты» → «Инструменты
   разработчика»), go to the «Консоль» (Console) tab and run:

     (async () => { const m = await import(document.querySelector('script[type="module"]').src);
       for (const f of Object.values(m)) { try { const v = typeof f === 'function' ? f() : f;
         if (v && v.refreshToken) { console.log(v.refreshToken); break; } } catch (e) {} } })()

   (This follows the bookmarklet of a public bot, oddyamill/kiasuo; if the page has changed,
   look for a 32-character value named refreshToken in the page's script modules.)
   The page keeps the refresh token in its script module state, not in localStorage
   (localStorage['token'] is the short-lived access token, which is not what is needed).
   The value is 32 hexadecimal characters, e.g. 3f9c…e1 (32 characters, 0-9 and a-f).
3. Give it to journalsync:  journalsync credentials set <school> --login <account name>
   and paste the value when asked. The login is any name you choose for this account.
4. Close the tab WITHOUT pressing «Выйти»: logging out may end this token. Do not keep using
   this browser session either: each refresh replaces the token, and whoever refreshes first
   (the browser or journalsync) makes the other's copy useless. Use a separate browser login
   for everyday reading.

If journalsync later reports that the saved login of an account has expired or was revoked,
repeat these steps for that account. Children under 14 («Вход для детей до 14 лет») have no
known API login; add a parent's account instead.
"""
