"""All writes about organizations, one module per area. Every public function is atomic,
records an audit event and hands side effects to ``on_commit``; views, admin actions and
tasks call these, never the ORM directly."""
