"""The Debian/Ubuntu side of lockpin: deb822 indexes, versions and relations (pure),
archive access, closure resolution and the ``apt.lock`` format."""
