"""v0 hooks: map loosely written actions onto the env's vocabulary."""


def repair_action(action, actions):
    """Exact match first, then case- and punctuation-insensitive, then a unique prefix."""
    if action in actions:
        return action
    cleaned = action.strip().strip("`'\".").strip().lower()
    by_lower = {a.lower(): a for a in actions}
    if cleaned in by_lower:
        return by_lower[cleaned]
    cleaned = cleaned.replace("_", " ")
    for a in actions:
        if a.lower().replace("_", " ") == cleaned:
            return a
    matches = [a for a in actions if a.lower().startswith(cleaned)] if cleaned else []
    return matches[0] if len(matches) == 1 else action
