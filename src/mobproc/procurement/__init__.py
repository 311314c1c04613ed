"""The MOBPROC v1 API's domain: tenant data files, how records read, and the order rules.
No HTTP here (that is :mod:`mobproc.api`) and no SQL (:mod:`mobproc.storage.procurement`)."""
