import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 900

    Component {
        id: sendComponent
        SendPage {}
    }
    Component {
        id: recipientsComponent
        RecipientsModel {}
    }
    Component {
        id: spyComponent
        SignalSpy {}
    }

    TestCase {
        id: testCase
        name: "Send"
        when: windowShown

        function makePage(vault, caseId, width) {
            const page = createTemporaryObject(sendComponent, stage, {
                vault: vault, caseId: caseId, caseTitle: "River crossing",
                width: width || stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function test_sends_a_sealed_bundle_that_age_opens() {
            const vault = support.unlockedVault("send passphrase 1");
            const caseId = support.addCase(vault, "River crossing");
            verify(support.addConsentedTestimony(vault, caseId, "Boat", "They took the boat", "W-1") !== "");
            verify(support.addConsentedTestimony(vault, caseId, "Bridge", "At the bridge", "W-2") !== "");
            const key = support.ageKeygen();
            verify(key.recipient.startsWith("age1"));
            const saved = createTemporaryObject(recipientsComponent, testCase, { vault: vault });
            verify(saved.add("Legal aid", key.recipient));
            const folder = support.makeDir("usb-1");

            const page = makePage(vault, caseId);
            const error = findChild(page, "errorLabel");
            mouseClick(findChild(page, "sendButton"));
            compare(error.text, "Choose at least one recipient: the organisation's public key (age1…).");

            const check = findChild(page, "recipientCheck_" + key.recipient);
            verify(check !== null, "the saved recipient is offered");
            mouseClick(check);
            compare(page.send.recipients, [key.recipient]);
            mouseClick(findChild(page, "sendButton"));
            compare(error.text, "Choose the folder to save the bundle in, for example a USB stick.");

            const folderField = findChild(page, "folderField");
            folderField.forceActiveFocus();
            for (const c of folder + "-missing") keyClick(c);
            mouseClick(findChild(page, "sendButton"));
            verify(error.text.indexOf("does not exist") >= 0, error.text);

            page.send.folder = folder;
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: page.send, signalName: "sent" });
            mouseClick(findChild(page, "sendButton"));
            tryCompare(spy, "count", 1, 20000);
            compare(error.text, "");
            const path = spy.signalArguments[0][0];
            verify(path.startsWith(folder + "/custodia-") && path.endsWith(".custodia"), path);
            verify(path.indexOf("River") < 0, "the file name does not say what the case is");
            const files = support.filesIn(folder);
            compare(files.length, 2, files);
            verify(files[1].endsWith(".custodia.envelope"), files);
            verify(findChild(page, "doneLabel").text.startsWith("Sealed 2 items into "),
                   findChild(page, "doneLabel").text);

            // Debian's age opens it with the recipient's key, and GNU tar
            // finds both testimonies inside.
            const listing = support.listBundleWithAge(path, key.keyFile);
            verify(listing.indexOf("manifest.json") >= 0, listing);
            compare(listing.split("testimony.txt").length - 1, 2, listing);
            // ...and nothing opens it without that key.
            const other = support.ageKeygen();
            compare(support.listBundleWithAge(path, other.keyFile), "");
        }

        function test_bad_keys_are_refused_in_words() {
            const vault = support.unlockedVault("send passphrase 2");
            const caseId = support.addCase(vault, "One");
            const page = makePage(vault, caseId);
            const field = findChild(page, "otherKeyField");
            field.text = "AGE-SECRET-KEY-1XYZ";
            mouseClick(findChild(page, "addKeyButton"));
            verify(findChild(page, "errorLabel").text.indexOf("Never paste a key that starts with AGE-SECRET-KEY") >= 0);
            compare(field.text, "AGE-SECRET-KEY-1XYZ", "left for the person to correct");
            compare(page.send.recipients.length, 0);
            const key = support.ageKeygen();
            field.text = key.recipient;
            field.forceActiveFocus();
            keyClick(Qt.Key_Return);
            compare(page.send.recipients, [key.recipient]);
            compare(field.text, "");
        }

        function test_consent_is_explained_then_overridden() {
            const vault = support.unlockedVault("send passphrase 3");
            const caseId = support.addCase(vault, "Consent");
            // The plain fixture records no consent (type "none").
            verify(support.addTestimony(vault, caseId, "Unsure", "Words", "W-1") !== "");
            verify(support.addConsentedTestimony(vault, caseId, "Agreed", "Words", "W-2") !== "");
            const page = makePage(vault, caseId);
            const key = support.ageKeygen();
            verify(page.send.addRecipient(key.recipient));
            const folder = support.makeDir("usb-3");
            page.send.folder = folder;
            mouseClick(findChild(page, "sendButton"));
            tryCompare(page.send, "busy", false, 10000);
            tryVerify(() => page.send.errorMessage !== "", 10000);
            compare(page.send.errorMessage,
                    "This case holds 1 item without documented consent, so Custodia "
                    + "sent nothing. Tick “Also send items without documented consent” only "
                    + "if the witnesses agreed in another way.");
            compare(support.filesIn(folder), [], "nothing written");

            mouseClick(findChild(page, "withoutConsentCheck"));
            verify(page.send.allowWithoutConsent);
            mouseClick(findChild(page, "sendButton"));
            tryVerify(() => page.send.doneMessage !== "", 20000);
            compare(support.filesIn(folder).length, 2);
        }

        function test_cancel_leaves_nothing_behind() {
            const vault = support.unlockedVault("send passphrase 4");
            const caseId = support.addCase(vault, "Big");
            // A large file so that sealing takes long enough to cancel.
            const testimony = createTemporaryObject(testimonyComponent, testCase,
                                                    { vault: vault, caseId: caseId });
            testimony.witness = "W-1";
            verify(testimony.addFile(support.makeFile("big.bin", 48)));
            testimony.save();
            tryCompare(testimony, "busy", false, 60000);
            compare(testimony.errorMessage, "");

            const page = makePage(vault, caseId);
            const key = support.ageKeygen();
            verify(page.send.addRecipient(key.recipient));
            page.send.folder = support.makeDir("usb-4");
            mouseClick(findChild(page, "withoutConsentCheck"));
            mouseClick(findChild(page, "sendButton"));
            tryCompare(page.send, "busy", true);
            const cancel = findChild(page, "cancelSendButton");
            tryCompare(cancel, "visible", true);
            // At once: sealing 48 MiB takes well under a second in a release
            // build, so waiting to see progress first could miss it.
            mouseClick(cancel);
            tryCompare(page.send, "busy", false, 20000);
            compare(page.send.errorMessage, "Sending cancelled. No bundle was written.");
            compare(support.filesIn(page.send.folder), [], "no partial bundle is left");
        }

        function test_fits_a_phone() {
            const vault = support.unlockedVault("send passphrase 5");
            const caseId = support.addCase(vault, "Phone");
            const page = makePage(vault, caseId, 360);
            for (const name of ["otherKeyField", "addKeyButton", "folderField",
                                "chooseFolderButton", "identitiesCheck", "sendButton"]) {
                const item = findChild(page, name);
                const right = item.mapToItem(page, item.width, 0).x;
                verify(right <= 360.5, name + " ends at " + right);
            }
        }
    }

    Component {
        id: testimonyComponent
        NewTestimonyModel {}
    }
}
