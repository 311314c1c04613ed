"""Identity sources beyond the built-in table: a source system backed by an LDAP directory
(CONTRACT §5b). :mod:`.configuration` reads which source system uses which source
(``MOBPROC_IDENTITY_SOURCES``); :mod:`.ldap_source` checks passwords against a directory
(search, then bind as the entry found), over the connections of :mod:`.connections`."""
