"""How a person gets an account's first mobile token (printed by ``journalsync credentials``).

It follows the only non-interactive login proven in a public client's source: the mobile-token
flow of the Android app F0x1d/EPOS (2022, note §2.2). Whether today's host still hands out a
mobile token the same way is not confirmed (note §2.3): the text says so.
"""

from __future__ import annotations

__all__ = ["HOW_TO_GET_TOKEN"]

HOW_TO_GET_TOKEN = """\
ЭПОС has no password login journalsync can use: an account is linked by the "mobile token" the
platform gives its phone app after a sign-in in a browser, and journalsync then keeps itself
logged in with it. Each ЭПОС account sees one family, so do this once per account (a parent,
or a student with his or her own login):

1. In a desktop browser open the developer tools (F12), go to the «Сеть» (Network) tab and tick
   «Сохранять журнал» (Preserve log). Then, in the same tab, open

     https://edu-epos.permkrai.ru/authenticate/oauth?app=phone&mode=epos&sub_provider=esia

   (that address is known from a third-party app only; the one a public client used on the
   older host is https://school.permkrai.ru/authenticate/oauth?app=phone&mode=rsaags)
   and sign in as the family does («Войти через Госуслуги», or the regional login).
2. The last step of the sign-in sends the browser to an address that starts with
   diaryperm://redirect?… — the phone app's address, which a browser cannot open (the page may
   stay blank or show an error). Find that address in the Network list (type "diaryperm"
   in the filter) or in the address bar. The mobile token is everything after "token=" up to
   the next "&", if there is one.
3. Store it, and point the account at it in the config:

     journalsync credentials set <key> --file secrets.toml --platform perm
     (paste the token when asked)

     [[schools.accounts]]
     login = "<any name you choose for this account>"
     token = { file = "secrets.toml", key = "<key>" }

4. Do not use the same token anywhere else (the phone app, another journalsync): ЭПОС replaces
   the mobile token at every use, journalsync keeps the new one (encrypted), and whoever uses
   it first makes the other's copy useless.

If journalsync later reports that the platform rejected the mobile token of an account, repeat
these steps for that account; a newly configured token replaces the one journalsync kept.
This flow is known from a public client of 2022; if the sign-in no longer ends at a diaryperm://
address, the platform has changed it and journalsync cannot link the account this way.
"""
