package dev.wxlogin.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.wxlogin.spring.admin.AdminUser;
import dev.wxlogin.spring.admin.Event;
import dev.wxlogin.spring.admin.EventPage;
import dev.wxlogin.spring.admin.Introspection;
import dev.wxlogin.spring.admin.UserPage;
import dev.wxlogin.spring.admin.WxloginAdminClient;
import dev.wxlogin.spring.admin.WxloginApiException;
import dev.wxlogin.spring.testing.WxloginTestServer;
import dev.wxlogin.spring.testing.WxloginTestServer.Login;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** WxloginAdminClient against a real server: every call, and refusals as the contract's codes. */
class AdminClientTest {

    static WxloginTestServer server;
    static WxloginAdminClient admin;

    @BeforeAll
    static void start() {
        server = WxloginTestServer.start();
        admin = new WxloginAdminClient(URI.create(server.url()),
                server.createAdminKey("admin-test", "users:read,users:write,events:read,tokens:introspect"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void search_get_roles_events_revoke_and_delete() {
        Login kim = server.login("kim");

        UserPage found = admin.searchUsers(kim.userId(), 10, null);
        assertThat(found.users()).extracting(AdminUser::id).containsExactly(kim.userId());

        AdminUser user = admin.getUser(kim.userId());
        assertThat(user.appid()).isEqualTo(WxloginTestServer.APP);
        assertThat(user.createdAt()).isNotNull();
        assertThat(user.identities()).singleElement().satisfies(i -> assertThat(i.appid()).isEqualTo(WxloginTestServer.APP));
        assertThat(user.activeSessions()).isEqualTo(1);
        assertThat(user.sessions()).singleElement().satisfies(s -> assertThat(s.revokedAt()).isNull());

        assertThat(admin.putRoles(kim.userId(), List.of("ops")).roles()).containsExactly("ops");

        EventPage events = admin.events(null, 200);
        assertThat(events.events()).filteredOn(e -> kim.userId().equals(e.userId()))
                .extracting(Event::type).contains("user.created", "user.roles_changed");

        Introspection live = admin.introspect(kim.accessToken());
        assertThat(live.active()).isTrue();
        assertThat(live.sub()).isEqualTo(kim.userId());
        assertThat(live.aud()).isEqualTo(WxloginTestServer.APP);

        admin.revokeSessions(kim.userId());
        assertThat(admin.getUser(kim.userId()).activeSessions()).isZero();
        assertThat(admin.introspect(kim.accessToken()).active()).isFalse();

        admin.deleteUser(kim.userId());
        assertThatThrownBy(() -> admin.getUser(kim.userId()))
                .isInstanceOfSatisfying(WxloginApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(404);
                    assertThat(e.code()).isEqualTo("not_found");
                });
    }

    @Test
    void an_unknown_key_and_a_key_without_the_scope_are_refused_with_their_codes() {
        WxloginAdminClient unknown = new WxloginAdminClient(URI.create(server.url()), "wxa_not_a_key");
        assertThatThrownBy(() -> unknown.searchUsers(null, null, null))
                .isInstanceOfSatisfying(WxloginApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(401);
                    assertThat(e.code()).isEqualTo("unauthorized");
                });
        WxloginAdminClient readOnly = new WxloginAdminClient(URI.create(server.url()),
                server.createAdminKey("read-only", "users:read"));
        Login lee = server.login("lee");
        assertThatThrownBy(() -> readOnly.putRoles(lee.userId(), List.of("admin")))
                .isInstanceOfSatisfying(WxloginApiException.class, e -> assertThat(e.code()).isEqualTo("forbidden"));
        // An access token is never an admin key.
        WxloginAdminClient withAccessToken = new WxloginAdminClient(URI.create(server.url()), lee.accessToken());
        assertThatThrownBy(() -> withAccessToken.getUser(lee.userId()))
                .isInstanceOfSatisfying(WxloginApiException.class, e -> assertThat(e.code()).isEqualTo("unauthorized"));
    }
}
