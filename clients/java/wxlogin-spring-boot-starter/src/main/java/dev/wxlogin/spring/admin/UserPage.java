package dev.wxlogin.spring.admin;

import java.util.List;

/** One page of a user search; {@code nextCursor} is null on the last page. */
public record UserPage(List<AdminUser> users, String nextCursor) {
    public UserPage {
        users = users == null ? List.of() : List.copyOf(users);
    }
}
