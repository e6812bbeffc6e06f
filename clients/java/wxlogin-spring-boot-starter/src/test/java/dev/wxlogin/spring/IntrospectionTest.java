package dev.wxlogin.spring;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.wxlogin.spring.app.TestApp;
import dev.wxlogin.spring.testing.WxloginTestServer;
import dev.wxlogin.spring.testing.WxloginTestServer.Login;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.ResultActions;

/** {@code wxlogin.introspect=true}: a logout or an admin's revoke is seen within the cache TTL. */
@SpringBootTest(classes = TestApp.class)
@AutoConfigureMockMvc
class IntrospectionTest {

    static final long CACHE_TTL_MS = 500;
    static WxloginTestServer server = WxloginTestServer.start();
    static String adminKey = server.createAdminKey("introspection-test", "tokens:introspect,users:write");

    @DynamicPropertySource
    static void wxlogin(DynamicPropertyRegistry registry) {
        registry.add("wxlogin.issuer-uri", server::url);
        registry.add("wxlogin.audiences", () -> WxloginTestServer.APP);
        registry.add("wxlogin.introspect", () -> "true");
        registry.add("wxlogin.introspection-cache-ttl", () -> CACHE_TTL_MS + "ms");
        registry.add("wxlogin.admin-key", () -> adminKey);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Autowired
    MockMvc mvc;

    private ResultActions whoami(String token) throws Exception {
        return mvc.perform(get("/whoami").header("Authorization", "Bearer " + token));
    }

    @Test
    void a_logged_out_token_is_refused() throws Exception {
        Login henry = server.login("henry");
        whoami(henry.accessToken()).andExpect(status().isOk());
        server.logout(henry);
        Thread.sleep(CACHE_TTL_MS + 100);
        whoami(henry.accessToken()).andExpect(status().isUnauthorized());
    }

    @Test
    void a_token_of_a_revoked_user_is_refused() throws Exception {
        Login iris = server.login("iris");
        whoami(iris.accessToken()).andExpect(status().isOk());
        new dev.wxlogin.spring.admin.WxloginAdminClient(java.net.URI.create(server.url()), adminKey)
                .revokeSessions(iris.userId());
        Thread.sleep(CACHE_TTL_MS + 100);
        whoami(iris.accessToken()).andExpect(status().isUnauthorized());
    }

    @Test
    void a_live_token_stays_accepted_past_the_cache_ttl() throws Exception {
        Login jack = server.login("jack");
        whoami(jack.accessToken()).andExpect(status().isOk());
        Thread.sleep(CACHE_TTL_MS + 100);
        whoami(jack.accessToken()).andExpect(status().isOk());
    }
}
