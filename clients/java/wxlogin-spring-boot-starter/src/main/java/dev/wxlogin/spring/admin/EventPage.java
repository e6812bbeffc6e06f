package dev.wxlogin.spring.admin;

import java.util.List;

/** Events oldest first; pass {@code nextCursor} as {@code after} for the next page (null: none yet). */
public record EventPage(List<Event> events, String nextCursor) {
    public EventPage {
        events = events == null ? List.of() : List.copyOf(events);
    }
}
