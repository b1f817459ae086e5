"""A per-network budget for plain HTTP requests (the state endpoint), kept in this process's memory."""

import math
import time
from collections import OrderedDict


class RequestBudget:
    """Requests per network over ``rates`` (``[(count, seconds), …]``), all of which must have room.

    Each window is a sliding-window counter (the previous fixed window's count,
    weighted by how much of it the sliding window still covers, plus the
    current one's), as the change budget in Redis counts: a few numbers per
    network, O(1) per request. Networks are kept in the order they were last
    seen, so the ones idle for two of the longest windows are dropped from the front
    as others come; past ``max_networks`` the least recent goes, and its next
    request starts a fresh budget.
    """

    def __init__(self, rates, max_networks=100_000, clock=time.monotonic):
        self.rates = rates
        self.max_networks = max_networks
        self.clock = clock
        # The previous window still weighs until the current one ends.
        self.idle_after = 2 * max((seconds for _, seconds in rates), default=0)
        # network -> (last seen, [[window, count, previous count] per rate])
        self.networks = OrderedDict()

    def take(self, network):
        """0 if the request fits (and is counted), else the seconds to wait before asking again."""
        if not self.rates:
            return 0
        now = self.clock()
        self._forget_idle(now)
        _, windows = self.networks.pop(network, (None, None))
        if windows is None:
            windows = [[0, 0, 0] for _ in self.rates]
        self.networks[network] = (now, windows)
        wait = 0
        for (limit, span), window in zip(self.rates, windows, strict=True):
            current = math.floor(now / span)
            if window[0] != current:
                window[2] = window[1] if window[0] == current - 1 else 0
                window[0], window[1] = current, 0
            weight = 1 - (now - current * span) / span
            if window[2] * weight + window[1] + 1 > limit:
                wait = max(wait, 1, math.ceil((current + 1) * span - now))
        if wait:
            return wait
        for window in windows:
            window[1] += 1
        return 0

    def _forget_idle(self, now):
        while self.networks:
            oldest, (seen, _) = next(iter(self.networks.items()))
            if now - seen <= self.idle_after and len(self.networks) < self.max_networks:
                return
            del self.networks[oldest]
