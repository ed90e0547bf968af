"""The App Home: a desk for every helper and a list for every asker.

- one module per view (``dashboard``, ``assigned``, ``team_tags``, ``question_tags``,
  ``my_stats``, ``my_questions``), each a pure function from plain data to Block Kit;
- ``common``: the header with one button per view, paging, and the small pieces every view uses;
- ``publisher``: chooses the view, loads its data (``nephthys.stats`` and the lifecycle's
  reads, never SQL of its own), remembers the choice, and publishes with ``hash``, coalescing
  repeated opens, dropping out-of-date renders, a loading view when slow, an error view on failure,
  and the live refresh of "Assigned to me";
- ``listeners``: the Bolt wiring of the Home's buttons and modals (parse, authorise, call, publish).

docs/app-home.md shows what each person sees and who may do what.
"""
