import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 900

    Component {
        id: settingsComponent
        SettingsPage {}
    }
    Component {
        id: sendComponent
        SendPage {}
    }
    Component {
        id: outboxComponent
        OutboxPage {}
    }
    Component {
        id: itemsComponent
        ItemsModel {}
    }

    TestCase {
        id: testCase
        name: "Outbox"
        when: windowShown

        function make(component, properties) {
            properties.width = properties.width || stage.width;
            properties.height = stage.height;
            const page = createTemporaryObject(component, stage, properties);
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function type(text) {
            for (const c of text)
                keyClick(c);
        }

        // A vault with one consented testimony in a case, enrolled with the
        // test's intake server through the Settings screen.
        function enrolledVault(passphrase) {
            const vault = support.unlockedVault(passphrase);
            const caseId = support.addCase(vault, "River crossing");
            verify(support.addConsentedTestimony(vault, caseId, "Boat", "They took the boat", "W-1") !== "");
            const url = support.startIntakeServer();
            verify(url.startsWith("http://127.0.0.1:"), "the intake server started: " + url);
            const settings = make(settingsComponent, { vault: vault });
            const code = support.intakeEnrolmentCode();
            verify(code.startsWith("custodia-enroll:v1:"), code);
            findChild(settings, "enrolmentCodeField").text = code;
            findChild(settings, "serverNameField").text = "ngo";
            mouseClick(findChild(settings, "enrolButton"));
            compare(findChild(settings, "enrolmentCodeField").text, "", "the one-time code is not kept on screen");
            tryCompare(settings.servers, "busy", false, 30000);
            compare(findChild(settings, "serverErrorLabel").text, "");
            tryCompare(settings.servers, "count", 1, 10000);
            compare(settings.servers.servers[0].name, "ngo");
            compare(settings.servers.servers[0].url, url);
            return { vault: vault, caseId: caseId };
        }

        function queue(vault, caseId) {
            const page = make(sendComponent, { vault: vault, caseId: caseId, caseTitle: "River crossing" });
            tryCompare(page.send.servers, "length", 1, 10000);
            const key = support.ageKeygen();
            verify(page.send.addRecipient(key.recipient));
            mouseClick(findChild(page, "queueButton"));
            tryVerify(() => page.send.doneMessage !== "" || page.send.errorMessage !== "", 20000);
            compare(page.send.errorMessage, "");
            verify(page.send.doneMessage.indexOf("queued the bundle for ngo") >= 0, page.send.doneMessage);
        }

        function test_enrol_queue_and_receive_a_receipt() {
            const setup = enrolledVault("outbox passphrase 1");
            const items = createTemporaryObject(itemsComponent, testCase,
                                                { vault: setup.vault, caseId: setup.caseId });
            tryCompare(items, "count", 1, 10000);
            compare(items.syncStateAt(0), "Not sent");
            queue(setup.vault, setup.caseId);

            const page = make(outboxComponent, { vault: setup.vault });
            tryCompare(page.outbox, "count", 1, 10000);
            const entry = page.outbox.entries[0];
            compare(entry.state, "queued");
            compare(entry.stateLabel, "Waiting to be sent");
            compare(entry.caseTitle, "River crossing");
            compare(entry.server, "ngo");
            const before = support.intakeBundleCount();
            verify(before >= 0);

            mouseClick(findChild(page, "sendNowButton"));
            tryCompare(page.outbox, "busy", false, 60000);
            compare(page.outbox.errorMessage, "");
            compare(page.outbox.doneMessage, "1 bundle received, each with a verified receipt.");
            tryVerify(() => page.outbox.entries.length === 1 && page.outbox.entries[0].received, 10000);
            compare(page.outbox.entries[0].stateLabel,
                    "Received: the server's signed receipt is verified");
            compare(page.outbox.waiting, 0);
            compare(support.intakeBundleCount(), before + 1, "the server holds it");
            // The case's list says so too, item by item.
            tryVerify(() => items.syncStateAt(0) === "Received",
                      10000);
        }

        function test_unreachable_server_is_explained_and_kept_for_later() {
            const setup = enrolledVault("outbox passphrase 2");
            queue(setup.vault, setup.caseId);
            support.stopIntakeServer();
            const page = make(outboxComponent, { vault: setup.vault });
            tryCompare(page.outbox, "count", 1, 10000);
            page.outbox.sendNow();
            tryCompare(page.outbox, "busy", false, 60000);
            verify(page.outbox.errorMessage.startsWith("1 bundle could not be sent: "),
                   page.outbox.errorMessage);
            tryVerify(() => page.outbox.entries[0].state === "failed", 10000);
            const entry = page.outbox.entries[0];
            compare(entry.stateLabel, "Not sent yet (tried 1 time)");
            verify(entry.error.length > 0, "a reason a person can read");
            compare(page.outbox.waiting, 1, "still waiting for the next send");
        }

        function test_bad_enrolment_codes_are_refused_in_words() {
            const vault = support.unlockedVault("outbox passphrase 3");
            const settings = make(settingsComponent, { vault: vault });
            settings.servers.enrol("hello", "");
            compare(settings.servers.errorMessage,
                    "That is not a Custodia enrolment code (it starts with custodia-enroll:v1:). "
                    + "Check that it was copied whole.");
            verify(support.startIntakeServer() !== "");
            const code = support.intakeEnrolmentCode();
            support.stopIntakeServer();
            settings.servers.enrol(code, "");
            tryCompare(settings.servers, "busy", false, 60000);
            verify(settings.servers.errorMessage.startsWith("Custodia could not reach the server"),
                   settings.servers.errorMessage);
            compare(settings.servers.count, 0);
        }

        function test_tor_settings_need_the_passphrase_and_fail_closed() {
            const setup = enrolledVault("outbox passphrase 4");
            queue(setup.vault, setup.caseId);
            const settings = make(settingsComponent, { vault: setup.vault });
            const proxy = findChild(settings, "proxyField");
            proxy.text = "http://127.0.0.1:9050";
            // Below the fold of a 900 px page: driven by keyboard, as a
            // person would after scrolling; Return in the field applies.
            findChild(settings, "requireTorCheck").checked = true;
            const field = findChild(settings, "torPassphraseField");
            tryCompare(field, "visible", true);
            field.forceActiveFocus();
            type("outbox passphrase 4");
            keyClick(Qt.Key_Return);
            verify(settings.security.errorMessage.indexOf("socks5h://") >= 0, settings.security.errorMessage);
            compare(field.text, "");

            // A Tor proxy nobody runs: required, so nothing may go out directly.
            const closed = support.closedLoopbackUrl().replace("http://", "socks5h://");
            proxy.text = closed;
            field.forceActiveFocus();
            type("wrong passphrase");
            keyClick(Qt.Key_Return);
            tryCompare(settings.security, "busy", false, 10000);
            compare(settings.security.errorMessage,
                    "That is not your current passphrase. Nothing was changed.");
            compare(settings.servers.requireProxy, false);
            wait(1100);
            field.forceActiveFocus();
            type("outbox passphrase 4");
            keyClick(Qt.Key_Return);
            tryCompare(settings.security, "busy", false, 10000);
            compare(settings.security.errorMessage, "");
            compare(settings.security.doneMessage,
                    "Saved. Custodia now sends nothing unless it goes through Tor.");
            tryCompare(settings.servers, "requireProxy", true, 10000);
            compare(settings.servers.proxy, closed);

            // The server may hold other tests' bundles: count from here.
            const before = support.intakeBundleCount();
            verify(before >= 0);
            const page = make(outboxComponent, { vault: setup.vault });
            tryCompare(page.outbox, "count", 1, 10000);
            page.outbox.sendNow();
            tryCompare(page.outbox, "busy", false, 60000);
            verify(page.outbox.errorMessage.startsWith("1 bundle could not be sent: "),
                   page.outbox.errorMessage);
            compare(page.outbox.waiting, 1);
            compare(support.intakeBundleCount(), before, "nothing reached the server without Tor");
        }

        function test_outbox_fits_a_phone() {
            const vault = support.unlockedVault("outbox passphrase 5");
            const page = make(outboxComponent, { vault: vault, width: 360 });
            const button = findChild(page, "sendNowButton");
            verify(button.mapToItem(page, button.width, 0).x <= 360.5);
            verify(findChild(page, "emptyLabel").visible);
        }
    }
}
