import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 900

    Component {
        id: pageComponent
        SettingsPage {}
    }
    Component {
        id: casesComponent
        CasesModel {}
    }
    Component {
        id: spyComponent
        SignalSpy {}
    }

    TestCase {
        id: testCase
        name: "Settings"
        when: windowShown

        function type(text) {
            for (const c of text)
                keyClick(c);
        }

        function makePage(vault) {
            const page = createTemporaryObject(pageComponent, stage,
                                               { vault: vault, width: stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function test_shows_investigator_and_device_key() {
            const vault = support.unlockedVault("settings passphrase 1");
            const page = makePage(vault);
            compare(findChild(page, "deviceKeyText").text, vault.deviceKey);
            verify(vault.deviceKey.startsWith("RW"), "a minisign Ed25519 public key: " + vault.deviceKey);
        }

        function test_auto_lock_change_needs_the_passphrase() {
            const vault = support.unlockedVault("settings passphrase 2");
            const page = makePage(vault);
            const spin = findChild(page, "autoLockSpin");
            const field = findChild(page, "autoLockPassphraseField");
            compare(spin.value, 5);
            verify(!field.visible, "nothing to confirm before a change");
            spin.forceActiveFocus();
            keyClick(Qt.Key_Up);
            compare(spin.value, 6);
            compare(vault.autoLockMinutes, 5, "not applied without the passphrase");
            tryCompare(field, "visible", true);

            // An empty or wrong passphrase changes nothing.
            mouseClick(findChild(page, "applyAutoLockButton"));
            compare(findChild(page, "errorLabel").text,
                    "Type your current passphrase to confirm this change.");
            field.forceActiveFocus();
            type("wrong one");
            keyClick(Qt.Key_Return);
            compare(field.text, "", "the field forgets what was typed");
            tryCompare(page.security, "busy", false, 10000);
            compare(findChild(page, "errorLabel").text,
                    "That is not your current passphrase. Nothing was changed.");
            compare(vault.autoLockMinutes, 5);

            field.forceActiveFocus();
            type("settings passphrase 2");
            mouseClick(findChild(page, "applyAutoLockButton"));
            tryCompare(vault, "autoLockMinutes", 6, 10000);
            compare(findChild(page, "errorLabel").text, "");
            compare(findChild(page, "doneLabel").text,
                    "The vault now locks after 6 minutes without use.");
            tryCompare(field, "visible", false);
            // QML cannot set it around the passphrase check.
            let refused = false;
            try {
                vault.autoLockMinutes = 30;
            } catch (e) {
                refused = true;
            }
            verify(refused, "autoLockMinutes is read-only to QML");
            compare(vault.autoLockMinutes, 6);
            page.security.changeAutoLock("settings passphrase 2", 500);
            tryCompare(page.security, "busy", false, 10000);
            compare(vault.autoLockMinutes, 120, "at most two hours");
        }

        function test_recipients_are_checked_saved_and_removed() {
            const vault = support.unlockedVault("settings passphrase 6");
            const page = makePage(vault);
            const key = support.ageKeygen();
            verify(key.recipient.startsWith("age1"), "age-keygen made a key: " + key.recipient);
            const name = findChild(page, "recipientNameField");
            const field = findChild(page, "recipientKeyField");
            const error = findChild(page, "recipientErrorLabel");

            name.text = "Legal aid";
            field.text = "AGE-SECRET-KEY-1QQQQ";
            mouseClick(findChild(page, "addRecipientButton"));
            verify(error.text.indexOf("must start with age1") >= 0, error.text);
            // One character changed: bech32's checksum catches it.
            const last = key.recipient.slice(-1);
            field.text = key.recipient.slice(0, -1) + (last === "q" ? "p" : "q");
            mouseClick(findChild(page, "addRecipientButton"));
            verify(error.text.indexOf("damaged or incomplete") >= 0, error.text);
            compare(page.savedRecipients.count, 0);

            field.text = key.recipient;
            mouseClick(findChild(page, "addRecipientButton"));
            compare(error.text, "");
            compare(page.savedRecipients.count, 1);
            compare(field.text, "", "the form is ready for the next");
            // Kept for this vault only, under a group named for its device key.
            const keys = support.settingKeys("recipients/");
            compare(keys.length, 2, keys);
            verify(keys[0].endsWith("/keys") && keys[1].endsWith("/names"), keys);
            compare(support.setting(keys[0]), [key.recipient]);
            compare(support.setting(keys[1]), ["Legal aid"]);
            verify(keys[0].indexOf(vault.deviceKey) < 0, "the device key itself is not written");

            // Another model (another screen, or after a restart) sees it.
            const again = makePage(vault);
            compare(again.savedRecipients.count, 1);
            compare(again.savedRecipients.recipients[0].name, "Legal aid");
            again.savedRecipients.remove(0);
            compare(support.setting(keys[0]).length, 0);

            // Locked, nothing is shown; unlocked again, they are back.
            verify(again.savedRecipients.add("Legal aid", key.recipient));
            vault.lock();
            compare(again.savedRecipients.count, 0, "nothing shown while locked");
            vault.unlock("settings passphrase 6");
            tryCompare(vault, "state", VaultModel.Unlocked, 10000);
            compare(again.savedRecipients.count, 1);
            // Another vault neither sees them nor lets them outlive its unlock.
            const other = makePage(support.unlockedVault("settings passphrase 6b"));
            compare(other.savedRecipients.count, 0);
            compare(support.settingKeys("recipients/"), []);
        }

        function test_security_buttons_open_their_pages() {
            const vault = support.unlockedVault("settings passphrase 7");
            const page = makePage(vault);
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: page, signalName: "openSecurityPage" });
            for (const [button, which] of [["changePassphraseButton", "passphrase"],
                                           ["duressButton", "duress"],
                                           ["panicWipeButton", "wipe"]]) {
                mouseClick(findChild(page, button));
                compare(spy.signalArguments[spy.count - 1][0], which);
            }
            compare(spy.count, 3);
        }

        function test_fits_a_phone() {
            const vault = support.unlockedVault("settings passphrase 8");
            const page = createTemporaryObject(pageComponent, stage,
                                               { vault: vault, width: 360, height: 740 });
            waitForRendering(page);
            for (const name of ["autoLockSpin", "lockNowButton", "recipientKeyField",
                                "addRecipientButton", "deviceKeyText"]) {
                const item = findChild(page, name);
                const right = item.mapToItem(page, item.width, 0).x;
                verify(right <= 360 + 0.5, name + " ends at " + right);
                verify(item.width > 0, name);
            }
        }

        function test_lock_now_locks_and_empties_the_lists() {
            const vault = support.unlockedVault("settings passphrase 3");
            support.addCase(vault, "A case");
            const cases = createTemporaryObject(casesComponent, testCase, { vault: vault });
            tryCompare(cases, "count", 1, 10000);
            const page = makePage(vault);
            mouseClick(findChild(page, "lockNowButton"));
            compare(vault.state, VaultModel.Locked);
            compare(cases.count, 0, "nothing from the vault stays on screen");
            compare(vault.deviceKey, "");
            compare(vault.investigator, "");
            verify(support.addCase(vault, "refused") === "", "no vault call runs once locked");
        }

        function test_auto_lock_after_inactivity() {
            const vault = support.unlockedVault("settings passphrase 4");
            support.setAutoLockMs(vault, 300);
            tryCompare(vault, "state", VaultModel.Locked, 5000);
        }

        function test_input_postpones_auto_lock() {
            const vault = support.unlockedVault("settings passphrase 5");
            const page = makePage(vault);
            support.setAutoLockMs(vault, 600);
            for (let i = 0; i < 8; ++i) {
                wait(150);
                mouseClick(page, 10, 10);  // any input counts as activity
            }
            compare(vault.state, VaultModel.Unlocked, "1.2 s of use did not lock");
            tryCompare(vault, "state", VaultModel.Locked, 5000);
        }
    }
}
