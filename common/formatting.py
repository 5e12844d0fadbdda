from datetime import timedelta


def format_duration(delta: timedelta) -> str:
    """``2d 3h 04m``, ``1h 05m``, ``44m 00s``, ``9s``: dense and readable."""
    minutes, seconds = divmod(int(delta.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
