import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 900

    Component {
        id: changeComponent
        ChangePassphrasePage {}
    }
    Component {
        id: duressComponent
        DuressPassphrasePage {}
    }
    Component {
        id: wipeComponent
        PanicWipePage {}
    }
    Component {
        id: casesComponent
        CasesModel {}
    }
    Component {
        id: recipientsComponent
        RecipientsModel {}
    }

    TestCase {
        id: testCase
        name: "Security"
        when: windowShown

        function type(text) {
            for (const c of text)
                keyClick(c);
        }

        function makePage(component, vault, width) {
            const page = createTemporaryObject(component, stage, {
                vault: vault, width: width || stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        // Locks, then unlocks with `passphrase`; true when it opened.
        function unlocksWith(vault, passphrase) {
            vault.lock();
            compare(vault.state, VaultModel.Locked);
            vault.unlock(passphrase);
            tryCompare(vault, "busy", false, 10000);
            return vault.state === VaultModel.Unlocked;
        }

        function fitsWidth(page, names, width) {
            for (const name of names) {
                const item = findChild(page, name);
                verify(item !== null, name);
                const right = item.mapToItem(page, item.width, 0).x;
                verify(right <= width + 0.5, name + " ends at " + right);
            }
        }

        function test_change_passphrase_by_keyboard() {
            const vault = support.unlockedVault("old passphrase 1");
            const page = makePage(changeComponent, vault);
            const current = findChild(page, "currentField");
            current.forceActiveFocus();
            type("old passphrase 1");
            keyClick(Qt.Key_Tab);
            verify(findChild(page, "newField").activeFocus, "Tab goes to the new passphrase");
            type("new passphrase 22");
            compare(findChild(page, "strengthLabel").text, "Strong", "17 characters of three kinds");
            keyClick(Qt.Key_Tab);
            verify(findChild(page, "confirmationField").activeFocus, "then to its confirmation");
            type("new passphrase 22");
            keyClick(Qt.Key_Return);
            compare(current.text, "", "the fields forget what was typed");
            compare(findChild(page, "newField").text, "");
            tryCompare(page.security, "busy", false, 10000);
            compare(findChild(page, "errorLabel").text, "");
            verify(findChild(page, "doneLabel").text.startsWith("Passphrase changed."),
                   findChild(page, "doneLabel").text);

            verify(!unlocksWith(vault, "old passphrase 1"), "the old passphrase no longer opens");
            wait(1100);  // past the back-off after one failure
            tryCompare(vault, "waitSeconds", 0, 10000);
            verify(unlocksWith(vault, "new passphrase 22"), "the new one does");
        }

        function test_change_passphrase_refusals() {
            const vault = support.unlockedVault("old passphrase 2");
            const page = makePage(changeComponent, vault);
            const error = findChild(page, "errorLabel");
            page.security.changePassphrase("old passphrase 2", "new passphrase 33", "new passphrase 34");
            compare(error.text, "The two new passphrases are not the same.");
            page.security.changePassphrase("old passphrase 2", "short", "short");
            compare(error.text, "Use at least 10 characters.");
            page.security.changePassphrase("", "new passphrase 33", "new passphrase 33");
            compare(error.text, "Type your current passphrase to confirm this change.");
            page.security.changePassphrase("not the passphrase", "new passphrase 33",
                                           "new passphrase 33");
            tryCompare(page.security, "busy", false, 10000);
            compare(error.text, "That is not your current passphrase. Nothing was changed.");
            verify(unlocksWith(vault, "old passphrase 2"), "still the old passphrase");
        }

        function test_duress_passphrase_explains_and_erases_when_used() {
            const vault = support.unlockedVault("real passphrase 3");
            verify(support.addCase(vault, "Kept secret") !== "");
            const recipients = createTemporaryObject(recipientsComponent, testCase, { vault: vault });
            verify(recipients.add("Legal aid", support.ageKeygen().recipient));
            compare(support.settingKeys("recipients").length, 2);
            const page = makePage(duressComponent, vault);
            const explanation = findChild(page, "explanation").text;
            verify(explanation.indexOf("erases everything") >= 0, explanation);

            page.security.setDuressPassphrase("real passphrase 3", "real passphrase 3",
                                              "real passphrase 3");
            compare(findChild(page, "errorLabel").text,
                    "The duress passphrase must be different from your passphrase.");

            const current = findChild(page, "currentField");
            current.forceActiveFocus();
            type("real passphrase 3");
            keyClick(Qt.Key_Tab);
            type("calm river song 7");
            keyClick(Qt.Key_Tab);
            type("calm river song 7");
            mouseClick(findChild(page, "setDuressButton"));
            tryCompare(page.security, "busy", false, 10000);
            compare(findChild(page, "errorLabel").text, "");
            compare(findChild(page, "doneLabel").text, "Duress passphrase set.");

            // Under coercion: the duress passphrase opens an empty vault.
            verify(unlocksWith(vault, "calm river song 7"));
            const cases = createTemporaryObject(casesComponent, testCase, { vault: vault });
            tryCompare(cases, "loading", false, 10000);
            compare(cases.count, 0, "the case is gone");
            compare(recipients.count, 0, "whom it was sent to is not shown");
            compare(support.settingKeys("recipients"), [], "nor kept on disk");
            verify(!unlocksWith(vault, "real passphrase 3"), "and the real passphrase with it");
        }

        function test_panic_wipe_countdown_can_be_cancelled() {
            const vault = support.unlockedVault("wipe passphrase 4");
            const page = makePage(wipeComponent, vault);
            const files = support.vaultFiles(vault);
            verify(files.length > 0);

            const current = findChild(page, "currentField");
            current.forceActiveFocus();
            type("wrong passphrase");
            keyClick(Qt.Key_Return);
            tryCompare(page.security, "busy", false, 10000);
            compare(findChild(page, "errorLabel").text,
                    "That is not your current passphrase. Nothing was changed.");
            compare(page.security.wipeSecondsLeft, 0, "a wrong passphrase arms nothing");
            wait(1100);

            current.forceActiveFocus();
            type("wipe passphrase 4");
            keyClick(Qt.Key_Return);
            tryCompare(page.security, "wipeSecondsLeft", 5, 10000);
            const countdown = findChild(page, "countdownLabel");
            tryCompare(countdown, "visible", true);
            compare(countdown.text, "Wiping in 5 seconds…", "the English plural from the shipped translation");
            tryCompare(page.security, "wipeSecondsLeft", 4, 3000);
            // Focus is on Cancel: Space presses it.
            verify(findChild(page, "cancelWipeButton").activeFocus);
            keyClick(Qt.Key_Space);
            compare(page.security.wipeSecondsLeft, 0);
            compare(page.security.doneMessage, "Panic wipe cancelled. Nothing was erased.");
            wait(5000);
            compare(vault.state, VaultModel.Unlocked);
            compare(support.vaultFiles(vault), files, "every file is still there");
        }

        function test_panic_wipe_erases_and_returns_to_first_run() {
            const vault = support.unlockedVault("wipe passphrase 5");
            const recipients = createTemporaryObject(recipientsComponent, testCase, { vault: vault });
            const key = support.ageKeygen();
            verify(recipients.add("Legal aid", key.recipient));
            const page = makePage(wipeComponent, vault);
            page.security.armPanicWipe("wipe passphrase 5");
            tryCompare(page.security, "wipeSecondsLeft", 5, 10000);
            tryCompare(vault, "state", VaultModel.NoVault, 10000);
            compare(support.vaultFiles(vault), [], "nothing of the vault is left");
            compare(support.settingKeys("recipients"), [], "nor whom it was sent to");
        }

        function test_lock_stops_a_pending_wipe() {
            const vault = support.unlockedVault("wipe passphrase 6");
            const page = makePage(wipeComponent, vault);
            page.security.armPanicWipe("wipe passphrase 6");
            tryCompare(page.security, "wipeSecondsLeft", 5, 10000);
            vault.lock();
            compare(page.security.wipeSecondsLeft, 0);
            wait(5500);
            compare(vault.state, VaultModel.Locked);
            verify(support.vaultFiles(vault).length > 0);
        }

        function test_pages_fit_a_phone() {
            const vault = support.unlockedVault("phone passphrase 7");
            fitsWidth(makePage(changeComponent, vault, 360),
                      ["currentField", "newField", "confirmationField", "changeButton"], 360);
            fitsWidth(makePage(duressComponent, vault, 360),
                      ["explanation", "currentField", "duressField", "setDuressButton"], 360);
            fitsWidth(makePage(wipeComponent, vault, 360), ["currentField", "wipeButton"], 360);
        }
    }
}
