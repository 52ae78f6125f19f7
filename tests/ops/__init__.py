"""Operations as the administration guide describes them, end to end on real processes:
backup, restore with --force-new-cluster, growing back to three members, member
migration, replacing a lost member, and the refusals of data dirs that cannot be used."""
