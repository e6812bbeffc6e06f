package dev.wxlogin.spring.admin;

import java.time.Instant;
import java.util.List;

/**
 * A user as the admin API shows it. {@code sessions} is only filled by
 * {@link WxloginAdminClient#getUser}; a search leaves it empty.
 */
public record AdminUser(
        String id,
        String appid,
        String openid,
        String unionid,
        String phoneNumber,
        String nickname,
        String avatarUrl,
        Instant createdAt,
        List<Identity> identities,
        List<String> roles,
        int activeSessions,
        List<Session> sessions) {

    public AdminUser {
        identities = identities == null ? List.of() : List.copyOf(identities);
        roles = roles == null ? List.of() : List.copyOf(roles);
        sessions = sessions == null ? List.of() : List.copyOf(sessions);
    }

    /** One mini program the user logged in through. */
    public record Identity(String appid, String openid, String unionid, Instant createdAt) {}

    /** A login session; {@code revokedAt} is null while it is live. */
    public record Session(String id, String appid, Instant createdAt, Instant expiresAt, Instant revokedAt) {}
}
